"""`c42 purge` deletes the login contexts of `openid` grants (`oidc_grants`) once their token
family has no `oauth_tokens` row left and they are older than the retention (issue 15)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from c42 import accounts
from c42.auth.oauth import apps, tokens
from c42.db import Database
from c42.migrate import upgrade
from c42.models import OAuthToken, OIDCGrant, utcnow
from c42.ops import purge
from c42.settings import Settings
from tests.ops.processes import SECRET_KEY, own_database

RETENTION_DAYS = 30


@dataclass
class Place:
    db: Database
    settings: Settings


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    with own_database(tmp_path) as url:  # purge deletes database-wide: a database of its own
        upgrade(url)
        settings = Settings(database_url=url, secret_key=SECRET_KEY, purge_interval=0)
        db = Database(settings.database_url)
        try:
            yield Place(db, settings)
        finally:
            db.dispose()


def _family(place: Place, user_id: str, app_id: str, *, pair_ended: datetime | None) -> str:
    """A new `openid` token family with one pair that expired at `pair_ended`, or with no
    pair at all (None)."""
    family_id = secrets.token_hex(16)
    if pair_ended is not None:
        with place.db.unit_of_work() as work:
            row_id = tokens.insert(
                work,
                app_id=app_id,
                user_id=user_id,
                access_token=secrets.token_urlsafe(32),
                refresh_token=None,
                scope="openid",
                family_id=family_id,
                code_id=None,
                access_lifetime=3600,
                refresh_lifetime=3600,
            )
        with place.db.engine.begin() as connection:
            table = OAuthToken.__table__
            connection.execute(
                update(table).where(table.c.id == row_id).values(access_expires_at=pair_ended)
            )
    return family_id


def _grant(place: Place, family_id: str, user_id: str, created: datetime) -> None:
    with place.db.session() as s:
        s.add(OIDCGrant(family_id=family_id, user_id=user_id, auth_time=created, created=created))


def _grants(place: Place) -> set[str]:
    with place.db.engine.connect() as connection:
        return set(connection.execute(select(OIDCGrant.__table__.c.family_id)).scalars())


def test_purge_deletes_login_contexts_of_gone_families(place: Place) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=RETENTION_DAYS + 10), now - timedelta(days=5)
    with place.db.session() as s:
        user = accounts.create_user(s, f"oidc-purge-{secrets.token_hex(4)}@example.com", None)
        service = accounts.create_service(s, "OIDC purge", user)
        app = apps.create(
            s,
            place.settings.resolved_secret_key(),
            apps.AppSpec(service.id, "RP", ["https://rp.example/cb"]),
        )
        user_id, app_id = user.id, app.id

    gone_long_ago = _family(place, user_id, app_id, pair_ended=None)
    pair_purged_now = _family(place, user_id, app_id, pair_ended=old)  # goes in the same run
    gone_recently_made = _family(place, user_id, app_id, pair_ended=None)
    live_family = _family(place, user_id, app_id, pair_ended=now + timedelta(hours=1))
    recent_pair = _family(place, user_id, app_id, pair_ended=recent)
    for family_id, created in [
        (gone_long_ago, old),
        (pair_purged_now, old),
        (gone_recently_made, recent),
        (live_family, old),
        (recent_pair, old),
    ]:
        _grant(place, family_id, user_id, created)

    dry = purge.purge(place.db, RETENTION_DAYS, dry_run=True)
    assert dry.counts["oidc_grants"] == 1  # counted before the pair goes
    assert len(_grants(place)) == 5

    report = purge.purge(place.db, RETENTION_DAYS, batch_size=1)
    assert report.counts["oidc_grants"] == 2
    assert report.counts["oauth_tokens"] == 1
    assert _grants(place) == {gone_recently_made, live_family, recent_pair}

    again = purge.purge(place.db, RETENTION_DAYS)
    assert again.counts["oidc_grants"] == 0
    assert _grants(place) == {gone_recently_made, live_family, recent_pair}
