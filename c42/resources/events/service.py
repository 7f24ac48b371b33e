"""Creating, changing and deleting events. Services flush; the request commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from c42.access import readable
from c42.access.permissions import Permission, reads
from c42.access.policy import Action, authorize_calendar, authorize_event
from c42.auth.subject import AuthSubject
from c42.db import next_sync_token
from c42.errors import InvalidRequest, NotFound
from c42.models import new_id, utcnow
from c42.resources.events import repository as repo
from c42.resources.events.schemas import DEFAULTS, EventFields, check_type_rules, to_columns

# Built once, values as parameters: building `insert(...).values(...)` per request (and its
# cache key) cost ~350 us of worker CPU per event created.
_NEW_EVENT = insert(repo.events)
_NEW_SUBSCRIPTION = insert(repo.subs)


def _check_calendars(session: Session, subject: AuthSubject, calendar_ids: list[str]) -> None:
    # SPEC §4: putting an event into a calendar needs write permission on that calendar.
    for calendar_id in calendar_ids:
        authorize_calendar(session, subject, calendar_id, Action.WRITE)


def _check_related(session: Session, subject: AuthSubject, values: dict[str, Any]) -> None:
    related = values.get("related_event_id")
    if related is not None:
        try:
            authorize_event(session, subject, related, Action.READ)
        except NotFound:
            raise InvalidRequest(
                "related_event is not an event you can see.", fields={"related_event": "unknown"}
            ) from None


def create(session: Session, subject: AuthSubject, fields: EventFields) -> str:
    if fields.event_type is None:
        raise InvalidRequest("event_type is required.", fields={"event_type": "required"})
    values = {**DEFAULTS, **to_columns(fields)}
    check_type_rules(values)
    calendar_ids = list(dict.fromkeys(fields.calendar_ids or []))
    _check_calendars(session, subject, calendar_ids)
    _check_related(session, subject, values)
    readable.lock_calendars(session, calendar_ids)  # their membership changes
    token = next_sync_token(session)
    now = utcnow()
    event_id = new_id()
    session.execute(
        _NEW_EVENT,
        {
            "id": event_id,
            "service_id": subject.service_id,
            "creator_id": subject.user_id,
            "created": now,
            "modified": now,
            "sync_token": token,
            **values,
        },
    )
    # SPEC §4: the creator gets a direct subscribed_write subscription.
    session.execute(
        _NEW_SUBSCRIPTION,
        {
            "id": new_id(),
            "event_id": event_id,
            "user_id": subject.user_id,
            "permission": Permission.SUBSCRIBED_WRITE,
            "rsvp_status": "attending",
            "is_invitation": False,
            "actor_id": subject.user_id,
            "message": "",
            "created": now,
            "modified": now,
            "sync_token": token,
        },
    )
    if calendar_ids:
        session.execute(
            insert(repo.ec), [{"event_id": event_id, "calendar_id": c} for c in calendar_ids]
        )
    readable.refresh(session, event_ids=[event_id])
    return event_id


def change(
    session: Session, subject: AuthSubject, event_id: str, fields: EventFields, replace: bool
) -> None:
    row, _ = authorize_event(session, subject, event_id, Action.WRITE)
    if replace and fields.event_type is None:
        raise InvalidRequest("event_type is required.", fields={"event_type": "required"})
    current = {name: getattr(row, name) for name in DEFAULTS} | {"event_type": row.event_type}
    base = {**DEFAULTS, "event_type": row.event_type} if replace else current
    values = {**base, **to_columns(fields)}
    check_type_rules(values)
    _check_related(session, subject, values)
    if fields.calendar_ids is not None:
        _replace_calendars(session, subject, event_id, list(dict.fromkeys(fields.calendar_ids)))
    _write_live(session, event_id, modified=utcnow(), **values)
    readable.refresh(session, event_ids=[event_id])


def _write_live(session: Session, event_id: str, **values: Any) -> None:
    """Update the event unless it was deleted meanwhile: a delete that committed while this
    request waited for the row is seen (PostgreSQL re-checks the WHERE on the row it waited
    for), and the request answers 404 as it would have after it, writing nothing."""
    result = session.execute(
        update(repo.events)
        .where(repo.events.c.id == event_id, repo.events.c.deleted_at.is_(None))
        .values(sync_token=next_sync_token(session), **values)
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result: it has a rowcount
    if not result.rowcount:
        raise NotFound("Event not found.")


def _current_calendars(session: Session, subject: AuthSubject, event_id: str) -> set[str]:
    """The event's calendars the caller can see."""
    return set(
        session.scalars(
            select(repo.ec.c.calendar_id)
            .join(repo.cs, repo.cs.c.calendar_id == repo.ec.c.calendar_id)
            .join(repo.cals, repo.cals.c.id == repo.ec.c.calendar_id)
            .where(
                repo.ec.c.event_id == event_id,
                repo.cs.c.user_id == subject.user_id,
                reads(repo.cs.c.permission),
                repo.cals.c.deleted_at.is_(None),
            )
        )
    )


def _replace_calendars(
    session: Session, subject: AuthSubject, event_id: str, wanted: list[str]
) -> None:
    """Set the event's calendars among those the caller can see; others stay untouched.
    Two of these at once on one event must not mix their sets: the calendars involved are
    locked (calendars first, c42.access.readable), then the event's row, and the event's
    calendars are read again under that lock (a concurrent change committed by then)."""
    readable.lock_calendars(session, [*_current_calendars(session, subject, event_id), *wanted])
    session.execute(
        select(repo.events.c.id)
        .where(repo.events.c.id == event_id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE (PostgreSQL; SQLite: no-op)
    )
    visible = _current_calendars(session, subject, event_id)
    added = [c for c in wanted if c not in visible]
    removed = [c for c in visible if c not in wanted]
    _check_calendars(session, subject, added + removed)
    readable.lock_calendars(session, added + removed)  # any that arrived meanwhile
    if removed:
        session.execute(
            delete(repo.ec).where(
                repo.ec.c.event_id == event_id, repo.ec.c.calendar_id.in_(removed)
            )
        )
    existing = set(
        session.scalars(select(repo.ec.c.calendar_id).where(repo.ec.c.event_id == event_id))
    )
    new = [c for c in added if c not in existing]
    if new:
        session.execute(insert(repo.ec), [{"event_id": event_id, "calendar_id": c} for c in new])


def remove(session: Session, subject: AuthSubject, event_id: str) -> None:
    authorize_event(session, subject, event_id, Action.WRITE)
    now = utcnow()
    _write_live(session, event_id, deleted_at=now, modified=now)  # deleted twice: 404
    readable.refresh(session, event_ids=[event_id])
