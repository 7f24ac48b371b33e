"""Queries of calendar and event subscriptions; who sees what from `c42.access.subscriptions`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Select,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from c42.access.permissions import reads
from c42.auth.subject import AuthSubject
from c42.resources.query import sync_order
from c42.resources.subscriptions.kinds import Kind


@dataclass(frozen=True, slots=True)
class Filters:
    target_ids: list[str] | None = None  # calendar_ids or event_ids
    subscriber_ids: list[str] | None = None
    service_ids: list[str] | None = None  # of the calendars or events
    rsvp_statuses: list[str] | None = None  # event subscriptions only
    sync_token: int | None = None


def _visible(
    kind: Kind, subject: AuthSubject, *columns: Any, target_ids: list[str] | None = None
) -> Select[Any]:
    """Subscriptions of the calendars or events the caller can read (and of nothing else)."""
    target = kind.target
    relation = target.relation(subject.user_id, target_ids)
    return (
        select(*columns)
        .select_from(kind.table)
        .join(target.table, target.table.c.id == kind.target_id)
        .join(relation.source, and_(relation.on, reads(relation.permission)))
        .where(target.table.c.deleted_at.is_(None), *target.scope_filter(subject))
    )


def _changed(
    kind: Kind, subject: AuthSubject, since: int, target_ids: list[str] | None
) -> Select[Any]:
    """Sync (SPEC §4): subscriptions changed after `since` that relate to the caller — of the
    calendars or events they can read, their own even once removed, and those of calendars or
    events deleted since — and whether each is gone for the caller (then shown as id +
    permission only)."""
    target = kind.target
    subs, targets = kind.table, target.table
    relation = target.relation(subject.user_id, target_ids)
    readable = reads(relation.permission)
    gone = or_(subs.c.deleted_at.is_not(None), targets.c.deleted_at.is_not(None), ~readable)
    return (
        select(subs, gone.label("gone"))
        .select_from(subs)
        .join(targets, targets.c.id == kind.target_id)
        .join(relation.source, relation.on)
        .where(
            or_(readable, subs.c.user_id == subject.user_id),
            or_(
                subs.c.sync_token > since,
                and_(targets.c.deleted_at.is_not(None), targets.c.sync_token > since),
            ),
            *target.scope_filter(subject),
        )
    )


def _conditions(kind: Kind, f: Filters) -> list[ColumnElement[bool]]:
    subs = kind.table
    conditions: list[ColumnElement[bool]] = []
    if f.sync_token is None:
        conditions.append(subs.c.deleted_at.is_(None))
    if f.target_ids is not None:
        conditions.append(kind.target_id.in_(f.target_ids))
    if f.subscriber_ids is not None:
        conditions.append(subs.c.user_id.in_(f.subscriber_ids))
    if f.service_ids is not None:
        conditions.append(kind.target.table.c.service_id.in_(f.service_ids))
    if f.rsvp_statuses is not None:
        conditions.append(subs.c.rsvp_status.in_(f.rsvp_statuses))
    return conditions


def list_page(
    session: Session, kind: Kind, subject: AuthSubject, f: Filters, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    if f.sync_token is None:
        query = _visible(kind, subject, kind.table, target_ids=f.target_ids)
    else:
        query = _changed(kind, subject, f.sync_token, f.target_ids)
    query = query.where(*_conditions(kind, f))
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    if not limit or count <= offset:
        return [], count
    ordered = query.order_by(*sync_order(kind.table, f.sync_token)).limit(limit).offset(offset)
    return list(session.execute(ordered).all()), count


def visible_one(
    session: Session, kind: Kind, subject: AuthSubject, subscription_id: str
) -> Row[Any] | None:
    query = _visible(kind, subject, kind.table).where(kind.table.c.id == subscription_id)
    return session.execute(query).first()


def one(session: Session, kind: Kind, subscription_id: str) -> Row[Any]:
    """A subscription by id, whoever sees it (after the caller changed it)."""
    return session.execute(select(kind.table).where(kind.table.c.id == subscription_id)).one()


def of_user(session: Session, kind: Kind, target_id: str, user_id: str) -> Row[Any] | None:
    """The user's subscription to this calendar or event, removed ones included."""
    query = select(kind.table).where(kind.target_id == target_id, kind.table.c.user_id == user_id)
    return session.execute(query).first()


def add(session: Session, kind: Kind, values: dict[str, Any]) -> None:
    session.execute(insert(kind.table).values(**values))


def change(
    session: Session,
    kind: Kind,
    subscription_id: str,
    values: dict[str, Any],
    *,
    live_only: bool = False,
) -> bool:
    """Update one subscription (with `live_only`, only if it is not removed): whether it was.
    A concurrent removal that committed first is seen here (PostgreSQL re-checks the WHERE
    on the row it waited for), so the caller answers 404 instead of writing to it."""
    statement = update(kind.table).where(kind.table.c.id == subscription_id)
    if live_only:
        statement = statement.where(kind.table.c.deleted_at.is_(None))
    result = session.execute(statement.values(**values))
    assert isinstance(result, CursorResult)  # an UPDATE's result: it has a rowcount
    return bool(result.rowcount)
