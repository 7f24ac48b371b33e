"""Queries of the calendars resource; visibility from `c42.access.calendars`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from c42.access import calendars as rules
from c42.access.permissions import reads
from c42.auth.subject import AuthSubject
from c42.resources.query import sync_order

calendars = rules.calendars
cs = rules.calendar_subscriptions


def _base(subject: AuthSubject, *columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(calendars)
        .join(cs, rules.subscription_join(subject.user_id))
        .where(*rules.scope_filter(subject))
    )


def list_page(
    session: Session,
    subject: AuthSubject,
    *,
    ids: list[str] | None,
    service_ids: list[str] | None,
    categories: list[str] | None,
    sync_token: int | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    conditions: list[Any] = []
    if sync_token is None:
        conditions += [reads(cs.c.permission), calendars.c.deleted_at.is_(None)]
    else:
        conditions.append((calendars.c.sync_token > sync_token) | (cs.c.sync_token > sync_token))
    if ids is not None:
        conditions.append(calendars.c.id.in_(ids))
    if service_ids is not None:
        conditions.append(calendars.c.service_id.in_(service_ids))
    if categories is not None:
        conditions.append(calendars.c.category.in_(categories))
    count = session.execute(_base(subject, func.count()).where(*conditions)).scalar_one()
    if limit == 0 or count <= offset:
        return [], count
    rows = session.execute(
        _base(subject, calendars, cs.c.permission)
        .where(*conditions)
        .order_by(*sync_order(calendars, sync_token))
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), count
