"""/api/v2/event-subscriptions/ — who is invited to which event, and their answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from c42.access import events as rules
from c42.access import readable
from c42.access.permissions import ACCEPTED, BY_NAME, INVITABLE, NAMES, Permission
from c42.access.policy import Action, authorize_event
from c42.auth.subject import AuthSubject
from c42.db import current_sync_token, next_sync_token
from c42.errors import Conflict, Forbidden, InvalidRequest, NotFound
from c42.models import new_id, utcnow
from c42.resources import common
from c42.resources.auth import Reader, Writer
from c42.resources.deps import SessionDep
from c42.resources.query import sync_order
from c42.resources.subscriptions import subscribers
from c42.resources.subscriptions.schemas import EventInvitation, EventSubscriptionChange

router = APIRouter(prefix="/api/v2/event-subscriptions", tags=["event-subscriptions"])
subs = rules.event_subscriptions
events = rules.events
RSVP = frozenset({"not_replied", "attending", "not_attending"})


def _visible(subject: AuthSubject, *columns: Any, event_ids: list[str] | None = None) -> Any:
    """Subscriptions of the events the caller can read (and of nothing else)."""
    access = rules.permission_subquery(subject.user_id, event_ids)
    return (
        select(*columns)
        .select_from(subs)
        .join(events, events.c.id == subs.c.event_id)
        .join(access, and_(access.c.event_id == events.c.id, access.c.permission > 0))
        .where(events.c.deleted_at.is_(None), *rules.scope_filter(subject))
    )


def _changed(subject: AuthSubject, since: int, event_ids: list[str] | None) -> Any:
    """Sync (SPEC §4): subscriptions changed after `since` that relate to the caller — of the
    events they can read, their own even once removed, and those of events deleted since —
    and whether each is gone for the caller (then shown as id + permission only)."""
    access = rules.permission_subquery(subject.user_id, event_ids)
    readable = access.c.permission > 0
    gone = or_(subs.c.deleted_at.is_not(None), events.c.deleted_at.is_not(None), ~readable)
    return (
        select(subs, gone.label("gone"))
        .select_from(subs)
        .join(events, events.c.id == subs.c.event_id)
        .join(access, access.c.event_id == events.c.id)
        .where(
            or_(readable, subs.c.user_id == subject.user_id),
            or_(
                subs.c.sync_token > since,
                and_(events.c.deleted_at.is_not(None), events.c.sync_token > since),
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
        "event_id": row.event_id,
        "subscriber": {"user_id": row.user_id},
        "permission": NAMES[row.permission],
        "previous_permission": None if previous is None else NAMES[previous],
        "rsvp_status": row.rsvp_status,
        "is_invitation": row.is_invitation,
        "actor": {"user_id": row.actor_id} if row.actor_id else None,
        "message": row.message,
        "created": common.fmt_dt(row.created),
        "modified": common.fmt_dt(row.modified),
        "sync_token": row.sync_token,
    }


def _get(session: Session, subject: AuthSubject, subscription_id: str) -> Any:
    row = session.execute(_visible(subject, subs).where(subs.c.id == subscription_id)).first()
    if row is None or row.deleted_at is not None:
        raise NotFound("Event subscription not found.")
    return row


@router.get("/")
def list_event_subscriptions(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    event_ids: str | None = None,
    subscriber_ids: str | None = None,
    service_ids: str | None = None,
    rsvp_status: str | None = None,
) -> Response:
    wanted_events = common.bracket_array(event_ids, "event_ids")
    conditions: list[Any] = []
    if sync_token is None:
        conditions.append(subs.c.deleted_at.is_(None))
    if wanted_events is not None:
        conditions.append(subs.c.event_id.in_(wanted_events))
    if (ids := common.bracket_array(subscriber_ids, "subscriber_ids")) is not None:
        conditions.append(subs.c.user_id.in_(ids))
    if (services := common.bracket_array(service_ids, "service_ids")) is not None:
        conditions.append(events.c.service_id.in_(services))
    if rsvp_status is not None:
        statuses = common.bracket_array(rsvp_status, "rsvp_status", ids=False) or []
        if not set(statuses) <= RSVP:
            raise InvalidRequest("Unknown rsvp_status.", fields={"rsvp_status": "unknown"})
        conditions.append(subs.c.rsvp_status.in_(statuses))
    token = current_sync_token(session)
    if sync_token is None:
        query = _visible(subject, subs, event_ids=wanted_events).where(*conditions)
    else:
        query = _changed(subject, sync_token, wanted_events).where(*conditions)
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
def invite(subject: Writer, session: SessionDep, body: EventInvitation) -> Response:
    # SPEC §4: inviting is sharing; it needs write permission and grants only invited_*.
    authorize_event(session, subject, body.event_id, Action.SHARE)
    user_id = subscribers.resolve(session, body.subscriber)
    existing = session.execute(
        select(subs).where(subs.c.event_id == body.event_id, subs.c.user_id == user_id)
    ).first()
    values = {
        "permission": BY_NAME[body.permission],
        "is_invitation": body.is_invitation,
        "message": body.message,
        "actor_id": subject.user_id,
        "rsvp_status": "not_replied",
        "modified": utcnow(),
        "sync_token": next_sync_token(session),
        "deleted_at": None,
    }
    if existing is not None:
        if existing.deleted_at is None and existing.permission != Permission.REMOVED:
            raise Conflict("This user is already subscribed to the event.", code="already_exists")
        subscription_id = existing.id
        values["previous_permission"] = existing.permission
        session.execute(update(subs).where(subs.c.id == subscription_id).values(**values))
    else:
        subscription_id = new_id()
        session.execute(
            insert(subs).values(
                id=subscription_id,
                event_id=body.event_id,
                user_id=user_id,
                created=values["modified"],
                **values,
            )
        )
    readable.refresh(session, event_ids=[body.event_id], user_id=user_id)
    row = _get(session, subject, subscription_id)
    return common.one(serialize(row), current_sync_token(session), 201)


@router.get("/{id}/")
def get_event_subscription(
    subject: Reader,
    session: SessionDep,
    id: str,
) -> Response:
    row = _get(session, subject, common.check_id(id, "Event subscription"))
    return common.one(serialize(row), current_sync_token(session))


def _change(
    session: Session, subject: AuthSubject, id: str, body: EventSubscriptionChange
) -> Response:
    row = _get(session, subject, common.check_id(id, "Event subscription"))
    values: dict[str, Any] = {}
    own = row.user_id == subject.user_id
    permission = row.permission
    if body.rsvp_status is not None:
        if not own:
            raise Forbidden("Only the subscriber answers an invitation.")
        values["rsvp_status"] = body.rsvp_status
        if body.rsvp_status == "attending" and permission in ACCEPTED:
            # SPEC §4: attending turns invited_* into subscribed_*.
            values["previous_permission"] = permission
            values["permission"] = permission = ACCEPTED[Permission(permission)]
    if body.permission is not None or body.message is not None:
        wanted = BY_NAME[body.permission] if body.permission is not None else None
        if own and wanted is Permission.REMOVED and body.message is None:
            pass  # anyone may leave an event
        else:
            authorize_event(session, subject, row.event_id, Action.SHARE)
            if wanted is not None and wanted not in INVITABLE | {Permission.REMOVED}:
                raise InvalidRequest(
                    "Only invited_read, invited_write or removed can be set.",
                    fields={"permission": "not allowed"},
                )
        if wanted is not None:
            values["previous_permission"] = row.permission
            values["permission"] = wanted
        if body.message is not None:
            values["message"] = body.message
    if values:
        session.execute(
            update(subs)
            .where(subs.c.id == row.id)
            .values(modified=utcnow(), sync_token=next_sync_token(session), **values)
        )
        readable.refresh(session, event_ids=[row.event_id], user_id=row.user_id)
    return common.one(serialize(_get_any(session, row.id)), current_sync_token(session))


def _get_any(session: Session, subscription_id: str) -> Any:
    return session.execute(select(subs).where(subs.c.id == subscription_id)).one()


@router.patch("/{id}/")
def change_event_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventSubscriptionChange,
) -> Response:
    return _change(session, subject, id, body)


@router.put("/{id}/")
def replace_event_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventSubscriptionChange,
) -> Response:
    """C42 compat: PUT takes the same fields as PATCH (a subscription has no other state)."""
    return _change(session, subject, id, body)


@router.delete("/{id}/", status_code=204)
def delete_event_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
) -> Response:
    row = _get(session, subject, common.check_id(id, "Event subscription"))
    if row.user_id != subject.user_id:  # leaving an event is always allowed
        authorize_event(session, subject, row.event_id, Action.SHARE)
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
    readable.refresh(session, event_ids=[row.event_id], user_id=row.user_id)
    return Response(status_code=204)
