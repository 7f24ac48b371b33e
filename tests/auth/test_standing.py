"""The one rule of "an account that may act" (SPEC §9): its SQL form and its Python form agree
on every combination of the three columns, on the real database."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy import select

from c42.db import Database
from c42.models import Service, User, utcnow
from c42.models.users import OPEN, Standing, is_open, is_real, may_act, standing
from tests.factories import unique_email

_CASES = list(itertools.product([True, False], [False, True], [False, True]))


@pytest.mark.parametrize(
    ("active", "sandbox", "closed"),
    _CASES,
    ids=[f"active={a}-sandbox={s}-closed={c}" for a, s, c in _CASES],
)
def test_sql_and_property_agree(db: Database, active: bool, sandbox: bool, closed: bool) -> None:
    closed_at: datetime | None = utcnow() if closed else None
    with db.session() as session:
        service = Service(name="Standing")
        session.add(service)
        session.flush()
        user = User(
            email=unique_email("standing"),
            is_active=active,
            sandbox_service_id=service.id if sandbox else None,
            closed_at=closed_at,
        )
        session.add(user)
        session.flush()
        users = User.__table__
        sql_may_act, sql_open, sql_real = session.execute(
            select(may_act(users), is_open(users), is_real(users)).where(users.c.id == user.id)
        ).one()
        expected = standing(active, service.id if sandbox else None, closed_at)
        assert user.standing is expected
        assert bool(sql_may_act) is user.may_act is (expected is Standing.MAY_ACT)
        assert bool(sql_open) is (expected in OPEN)
        assert bool(sql_real) is user.is_real is (not sandbox and not closed)
        # Only an active, open, real account may act; closed wins over everything.
        assert user.may_act is (active and not sandbox and not closed)
        if closed:
            assert expected is Standing.CLOSED
        session.rollback()
