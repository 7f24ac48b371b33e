"""Sharing calendars, inviting to events, answering, leaving. Services flush; the request
commits. Who may do what is decided by `c42.access.subscriptions`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from c42.access import readable
from c42.access import subscriptions as access
from c42.access.permissions import BY_NAME, Permission
from c42.auth.subject import AuthSubject
from c42.db import next_sync_token
from c42.errors import Conflict, NotFound
from c42.models import new_id, utcnow
from c42.resources.subscriptions import repository as repo
from c42.resources.subscriptions import subscribers
from c42.resources.subscriptions.kinds import CALENDAR, EVENT, Kind
from c42.resources.subscriptions.schemas import (
    CalendarSubscriptionChange,
    EventSubscriptionChange,
    Subscriber,
)


def get(session: Session, kind: Kind, subject: AuthSubject, subscription_id: str) -> Row[Any]:
    """A subscription the caller can see, not removed; else 404."""
    row = repo.visible_one(session, kind, subject, subscription_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"{kind.what} not found.")
    return row


def _save(session: Session, kind: Kind, row: Row[Any], values: dict[str, Any]) -> None:
    values = {"modified": utcnow(), "sync_token": next_sync_token(session), **values}
    if not repo.change(session, kind, row.id, values, live_only=True):
        raise NotFound(f"{kind.what} not found.")  # removed by a concurrent request
    target_id = getattr(row, kind.target.key)
    readable.refresh(session, event_ids=kind.target.readable_events(target_id), user_id=row.user_id)


def share(
    session: Session,
    kind: Kind,
    subject: AuthSubject,
    target_id: str,
    subscriber: Subscriber,
    permission: str,
    **fields: Any,
) -> str:
    """Subscribe a user to a calendar or event (a share, an invitation): the id."""
    access.authorize_share(session, kind.target, subject, target_id)
    user_id = subscribers.resolve(session, subscriber)
    existing = repo.of_user(session, kind, target_id, user_id)
    if existing is not None:
        if existing.deleted_at is None and existing.permission != Permission.REMOVED:
            raise Conflict(kind.taken, code="already_exists")
        fields["previous_permission"] = existing.permission
    now = utcnow()
    values = {
        "permission": BY_NAME[permission],
        "actor_id": subject.user_id,
        "modified": now,
        "sync_token": next_sync_token(session),
        "deleted_at": None,
        **fields,
    }
    if existing is not None:
        subscription_id: str = existing.id
        repo.change(session, kind, subscription_id, values)
    else:
        subscription_id = new_id()
        new = {"id": subscription_id, kind.target.key: target_id, "user_id": user_id}
        repo.add(session, kind, {**new, "created": now, **values})
    events = kind.target.readable_events(target_id)
    readable.refresh(session, event_ids=events, user_id=user_id)
    return subscription_id


def change_calendar(
    session: Session, subject: AuthSubject, subscription_id: str, body: CalendarSubscriptionChange
) -> Row[Any]:
    row = get(session, CALENDAR, subject, subscription_id)
    wanted = BY_NAME[body.permission]
    access.authorize_calendar_change(session, subject, row, wanted)
    _save(session, CALENDAR, row, {"permission": wanted, "previous_permission": row.permission})
    return repo.one(session, CALENDAR, row.id)


def change_event(
    session: Session, subject: AuthSubject, subscription_id: str, body: EventSubscriptionChange
) -> Row[Any]:
    row = get(session, EVENT, subject, subscription_id)
    wanted = None if body.permission is None else BY_NAME[body.permission]
    access.authorize_event_change(
        session,
        subject,
        row,
        rsvp=body.rsvp_status is not None,
        wanted=wanted,
        message=body.message is not None,
    )
    values: dict[str, Any] = {}
    if body.rsvp_status is not None:
        values["rsvp_status"] = body.rsvp_status
        accepted = access.accepted_by_attending(row.permission)
        if body.rsvp_status == "attending" and accepted is not None:
            values["previous_permission"] = row.permission
            values["permission"] = accepted
    if wanted is not None:
        values["previous_permission"] = row.permission
        values["permission"] = wanted
    if body.message is not None:
        values["message"] = body.message
    if values:
        _save(session, EVENT, row, values)
    return repo.one(session, EVENT, row.id)


def remove(session: Session, kind: Kind, subject: AuthSubject, subscription_id: str) -> None:
    row = get(session, kind, subject, subscription_id)
    access.authorize_removal(session, kind.target, subject, row)
    now = utcnow()
    values = {
        "deleted_at": now,
        "modified": now,
        "previous_permission": row.permission,
        "permission": Permission.REMOVED,
    }
    _save(session, kind, row, values)
