"""Queries of the events resource. Visibility comes from `c42.access.events`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from c42.access import events as rules
from c42.auth.subject import AuthSubject

events = rules.events
subs = rules.event_subscriptions
ec = rules.event_calendars
cs = rules.calendar_subscriptions
cals = rules.calendars

ORDER_COLUMNS = {"sync_token": events.c.sync_token, "due": events.c.due, "start": events.c.start}


@dataclass(frozen=True, slots=True)
class EventFilters:
    ids: list[str] | None = None
    service_ids: list[str] | None = None
    calendar_ids: list[str] | None = None
    calendar_ids_or: list[str] | None = None
    event_types: list[str] | None = None
    sync_token: int | None = None
    order_by: str = "sync_token"
    order_asc: bool = True


def _conditions(subject: AuthSubject, access: Any, f: EventFilters) -> list[Any]:
    conditions: list[Any] = list(rules.scope_filter(subject))
    if f.sync_token is None:
        conditions.append(rules.readable(access))
    else:
        # Changed after the token: the event itself or the caller's relation to it. Deleted
        # events and relations turned `removed` stay listed, shown as id + permission.
        conditions.append(or_(events.c.sync_token > f.sync_token, subs.c.sync_token > f.sync_token))
    if f.ids is not None:
        conditions.append(events.c.id.in_(f.ids))
    if f.service_ids is not None:
        conditions.append(events.c.service_id.in_(f.service_ids))
    if f.event_types is not None:
        conditions.append(events.c.event_type.in_(f.event_types))
    for calendar_id in f.calendar_ids or ():
        conditions.append(
            exists().where(ec.c.event_id == events.c.id, ec.c.calendar_id == calendar_id)
        )
    if f.calendar_ids_or is not None:
        conditions.append(
            exists().where(ec.c.event_id == events.c.id, ec.c.calendar_id.in_(f.calendar_ids_or))
        )
    return conditions


def _base(subject: AuthSubject, access: Any, f: EventFilters, *columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(access)
        .join(events, events.c.id == access.c.event_id)
        .outerjoin(subs, and_(subs.c.event_id == events.c.id, subs.c.user_id == subject.user_id))
        .where(*_conditions(subject, access, f))
    )


def list_page(
    session: Session, subject: AuthSubject, f: EventFilters, limit: int, offset: int
) -> tuple[list[Any], int]:
    access = rules.permission_subquery(subject.user_id, f.ids)
    count = session.execute(_base(subject, access, f, func.count())).scalar_one()
    if limit == 0 or count <= offset:
        return [], count
    order = ORDER_COLUMNS[f.order_by]
    order = order.asc() if f.order_asc else order.desc()
    rows = session.execute(
        _base(subject, access, f, events, *_relation_columns(access))
        .order_by(order, events.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), count


def _relation_columns(access: Any) -> list[Any]:
    return [
        access.c.permission,
        subs.c.previous_permission.label("previous_permission"),
        subs.c.rsvp_status.label("rsvp_status"),
        subs.c.is_invitation.label("is_invitation"),
    ]


def get_one(session: Session, subject: AuthSubject, event_id: str) -> Any:
    access = rules.permission_subquery(subject.user_id, [event_id])
    return session.execute(
        _base(subject, access, EventFilters(ids=[event_id]), events, *_relation_columns(access))
    ).first()


def calendar_ids(session: Session, user_id: str, event_ids: list[str]) -> dict[str, list[str]]:
    """The calendars of each event that the caller can see (requester-relative)."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(ec.c.event_id, ec.c.calendar_id)
        .join(cs, and_(cs.c.calendar_id == ec.c.calendar_id, cs.c.user_id == user_id))
        .join(cals, cals.c.id == ec.c.calendar_id)
        .where(ec.c.event_id.in_(event_ids), cs.c.permission > 0, cals.c.deleted_at.is_(None))
        .order_by(ec.c.calendar_id)
    ).all()
    result: dict[str, list[str]] = defaultdict(list)
    for event_id, calendar_id in rows:
        result[event_id].append(calendar_id)
    return result
