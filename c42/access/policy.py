"""The one place where a caller's right to read, change or share a resource is decided.

Resources call these functions; they never compare permissions themselves. An object the
caller may not see is a 404 (never reveal existence); 403 means "visible, but not this".
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42.access import calendars as cal_rules
from c42.access import events as event_rules
from c42.access.permissions import can_read, can_write
from c42.auth.subject import AuthSubject
from c42.errors import Forbidden, NotFound


class Action(Enum):
    READ = "read"
    WRITE = "write"
    SHARE = "share"


def _decide(permission: int | None, action: Action, what: str) -> None:
    if not can_read(permission):
        raise NotFound(f"{what} not found.")
    if action is not Action.READ and not can_write(permission):
        raise Forbidden(f"You have no write permission on this {what.lower()}.")


def check_sharing(subject: AuthSubject) -> None:
    """Sharing with other users is refused to sandbox users (SPEC §5.4)."""
    if subject.is_sandbox:
        raise Forbidden(
            "A sandbox user cannot share. Send the user through the normal OAuth flow "
            "(login and consent) to verify their account first.",
            code="service_verification_required",
        )


def authorize_service(subject: AuthSubject, service_id: str) -> None:
    """A service-restricted caller (an OAuth app, a service's Action Token) sees only its own
    service; others, every service's public assets."""
    if subject.service_id is not None and subject.service_id != service_id:
        raise NotFound("Service not found.")


def event_permission(session: Session, subject: AuthSubject, event_id: str) -> tuple[Any, int]:
    """The event row (not deleted, in the caller's scope) and the caller's permission on it."""
    access = event_rules.permission_subquery(subject.user_id, [event_id])
    row = session.execute(
        select(event_rules.events, access.c.permission)
        .join(access, access.c.event_id == event_rules.events.c.id)
        .where(event_rules.events.c.id == event_id, event_rules.events.c.deleted_at.is_(None))
        .where(*event_rules.scope_filter(subject))
    ).first()
    if row is None:
        raise NotFound("Event not found.")
    return row, int(row.permission)


def authorize_event(
    session: Session, subject: AuthSubject, event_id: str, action: Action
) -> tuple[Any, int]:
    row, permission = event_permission(session, subject, event_id)
    _decide(permission, action, "Event")
    if action is Action.SHARE:
        check_sharing(subject)
    return row, permission


def calendar_permission(
    session: Session, subject: AuthSubject, calendar_id: str
) -> tuple[Any, int | None]:
    cs = cal_rules.calendar_subscriptions
    row = session.execute(
        select(cal_rules.calendars, cs.c.permission, cs.c.id.label("subscription_id"))
        .join(cs, cal_rules.subscription_join(subject.user_id))
        .where(cal_rules.calendars.c.id == calendar_id, cal_rules.calendars.c.deleted_at.is_(None))
        .where(*cal_rules.scope_filter(subject))
    ).first()
    if row is None:
        raise NotFound("Calendar not found.")
    return row, row.permission


def authorize_calendar(
    session: Session, subject: AuthSubject, calendar_id: str, action: Action
) -> tuple[Any, int]:
    row, permission = calendar_permission(session, subject, calendar_id)
    _decide(permission, action, "Calendar")
    if action is Action.SHARE:
        check_sharing(subject)
    return row, int(permission or 0)
