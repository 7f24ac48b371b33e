"""/api/v2/calendar-subscriptions/ — sharing calendars and accepting shares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased
from starlette.responses import Response

from c42.access import calendars as rules
from c42.access import readable
from c42.access.permissions import ACCEPTED, BY_NAME, INVITABLE, NAMES, Permission
from c42.access.policy import Action, authorize_calendar
from c42.auth.subject import AuthSubject
from c42.db import current_sync_token, next_sync_token
from c42.errors import Conflict, Forbidden, InvalidRequest, NotFound
from c42.models import new_id, utcnow
from c42.resources import common
from c42.resources.auth import Reader, Writer
from c42.resources.deps import SessionDep
from c42.resources.query import sync_order
from c42.resources.subscriptions import subscribers
from c42.resources.subscriptions.schemas import CalendarShare, CalendarSubscriptionChange

router = APIRouter(prefix="/api/v2/calendar-subscriptions", tags=["calendar-subscriptions"])
subs = rules.calendar_subscriptions
calendars = rules.calendars
mine = aliased(subs, name="mine")


def _visible(subject: AuthSubject, *columns: Any) -> Any:
    """Subscriptions of the calendars the caller can read."""
    return (
        select(*columns)
        .select_from(subs)
        .join(calendars, calendars.c.id == subs.c.calendar_id)
        .join(
            mine,
            and_(
                mine.c.calendar_id == calendars.c.id,
                mine.c.user_id == subject.user_id,
                mine.c.permission > 0,
            ),
        )
        .where(calendars.c.deleted_at.is_(None), *rules.scope_filter(subject))
    )


def _changed(subject: AuthSubject, since: int) -> Any:
    """Sync (SPEC §4): subscriptions changed after `since` that relate to the caller — of the
    calendars they can read, their own even once removed, and those of calendars deleted
    since — and whether each is gone for the caller (then shown as id + permission only)."""
    readable = mine.c.permission > 0
    gone = or_(subs.c.deleted_at.is_not(None), calendars.c.deleted_at.is_not(None), ~readable)
    return (
        select(subs, gone.label("gone"))
        .select_from(subs)
        .join(calendars, calendars.c.id == subs.c.calendar_id)
        .join(
            mine,
            and_(mine.c.calendar_id == calendars.c.id, mine.c.user_id == subject.user_id),
        )
        .where(
            or_(readable, subs.c.user_id == subject.user_id),
            or_(
                subs.c.sync_token > since,
                and_(calendars.c.deleted_at.is_not(None), calendars.c.sync_token > since),
            ),
            *rules.scope_filter(subject),
        )
    )


def serialize(row: Any) -> dict[str, Any]:
    if row.deleted_at is not None or getattr(row, "gone", False):
        return {"id": row.id, "permission": NAMES[row.permission]}
    previous = row.previous_permission
    return {
        "id": row.id,
        "calendar_id": row.calendar_id,
        "subscriber": {"user_id": row.user_id},
        "permission": NAMES[row.permission],
        "previous_permission": None if previous is None else NAMES[previous],
        "actor": {"user_id": row.actor_id} if row.actor_id else None,
        "created": common.fmt_dt(row.created),
        "modified": common.fmt_dt(row.modified),
        "sync_token": row.sync_token,
    }


def _get(session: Session, subject: AuthSubject, subscription_id: str) -> Any:
    row = session.execute(_visible(subject, subs).where(subs.c.id == subscription_id)).first()
    if row is None or row.deleted_at is not None:
        raise NotFound("Calendar subscription not found.")
    return row


@router.get("/")
def list_calendar_subscriptions(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    calendar_ids: str | None = None,
    subscriber_ids: str | None = None,
) -> Response:
    conditions: list[Any] = []
    if (ids := common.bracket_array(calendar_ids, "calendar_ids")) is not None:
        conditions.append(subs.c.calendar_id.in_(ids))
    if (users := common.bracket_array(subscriber_ids, "subscriber_ids")) is not None:
        conditions.append(subs.c.user_id.in_(users))
    token = current_sync_token(session)
    if sync_token is None:
        query = _visible(subject, subs).where(subs.c.deleted_at.is_(None), *conditions)
    else:
        query = _changed(subject, sync_token).where(*conditions)
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows: list[Any] = []
    if limit and count > offset:
        rows = list(
            session.execute(
                query.order_by(*sync_order(subs, sync_token)).limit(limit).offset(offset)
            ).all()
        )
    return common.envelope([serialize(r) for r in rows], count, offset, token)


@router.post("/", status_code=201)
def share_calendar(subject: Writer, session: SessionDep, body: CalendarShare) -> Response:
    # SPEC §4: sharing a calendar needs write permission on it and grants only invited_*.
    authorize_calendar(session, subject, body.calendar_id, Action.SHARE)
    user_id = subscribers.resolve(session, body.subscriber)
    existing = session.execute(
        select(subs).where(subs.c.calendar_id == body.calendar_id, subs.c.user_id == user_id)
    ).first()
    now = utcnow()
    values = {
        "permission": BY_NAME[body.permission],
        "actor_id": subject.user_id,
        "modified": now,
        "sync_token": next_sync_token(session),
        "deleted_at": None,
    }
    if existing is not None:
        if existing.deleted_at is None and existing.permission != Permission.REMOVED:
            raise Conflict("The calendar is already shared with this user.", code="already_exists")
        subscription_id = existing.id
        session.execute(
            update(subs)
            .where(subs.c.id == subscription_id)
            .values(previous_permission=existing.permission, **values)
        )
    else:
        subscription_id = new_id()
        session.execute(
            insert(subs).values(
                id=subscription_id,
                calendar_id=body.calendar_id,
                user_id=user_id,
                created=now,
                **values,
            )
        )
    readable.refresh(session, event_ids=readable.in_calendar(body.calendar_id), user_id=user_id)
    return common.one(
        serialize(_get(session, subject, subscription_id)), current_sync_token(session), 201
    )


@router.get("/{id}/")
def get_calendar_subscription(
    subject: Reader,
    session: SessionDep,
    id: str,
) -> Response:
    row = _get(session, subject, common.check_id(id, "Calendar subscription"))
    return common.one(serialize(row), current_sync_token(session))


@router.patch("/{id}/")
def change_calendar_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: CalendarSubscriptionChange,
) -> Response:
    row = _get(session, subject, common.check_id(id, "Calendar subscription"))
    wanted = BY_NAME[body.permission]
    current = Permission(row.permission)
    if row.user_id == subject.user_id:
        # The subscriber accepts (invited_* -> subscribed_*) or leaves (removed).
        if wanted is not Permission.REMOVED and ACCEPTED.get(current) is not wanted:
            raise Forbidden("You can only accept this share or leave the calendar.")
    else:
        authorize_calendar(session, subject, row.calendar_id, Action.SHARE)
        if wanted not in INVITABLE | {Permission.REMOVED}:
            raise InvalidRequest(
                "Only invited_read, invited_write or removed can be set.",
                fields={"permission": "not allowed"},
            )
    session.execute(
        update(subs)
        .where(subs.c.id == row.id)
        .values(
            permission=wanted,
            previous_permission=current,
            modified=utcnow(),
            sync_token=next_sync_token(session),
        )
    )
    readable.refresh(session, event_ids=readable.in_calendar(row.calendar_id), user_id=row.user_id)
    changed = session.execute(select(subs).where(subs.c.id == row.id)).one()
    return common.one(serialize(changed), current_sync_token(session))


@router.delete("/{id}/", status_code=204)
def delete_calendar_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
) -> Response:
    row = _get(session, subject, common.check_id(id, "Calendar subscription"))
    if row.user_id != subject.user_id:  # leaving a calendar is always allowed
        authorize_calendar(session, subject, row.calendar_id, Action.SHARE)
    now = utcnow()
    session.execute(
        update(subs)
        .where(subs.c.id == row.id)
        .values(
            deleted_at=now,
            modified=now,
            previous_permission=row.permission,
            permission=Permission.REMOVED,
            sync_token=next_sync_token(session),
        )
    )
    readable.refresh(session, event_ids=readable.in_calendar(row.calendar_id), user_id=row.user_id)
    return Response(status_code=204)
