"""Who may see and change calendar and event subscriptions (SPEC §4).

A subscription is visible to whoever can read its calendar or event. Sharing (creating a
subscription for someone, changing or removing someone else's) needs write permission on
the calendar or event and grants only `invited_*` (or `removed`); the subscriber may always
leave, and answers the invitation: a calendar share by accepting it (`invited_*` ->
`subscribed_*`), an event invitation through its RSVP (attending accepts it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, FromClause, Table, and_
from sqlalchemy.orm import Session, aliased

from c42.access import calendars as calendar_rules
from c42.access import events as event_rules
from c42.access import readable
from c42.access.permissions import ACCEPTED, INVITABLE, Permission
from c42.access.policy import Action, authorize_calendar, authorize_event
from c42.auth.subject import AuthSubject
from c42.errors import Forbidden, InvalidRequest

GRANTABLE = INVITABLE | {Permission.REMOVED}  # what a sharer may set on someone's subscription


class Relation(NamedTuple):
    """The caller's permission on the subscribed objects, to join on them."""

    source: FromClause
    on: ColumnElement[bool]
    permission: ColumnElement[int]


@dataclass(frozen=True, slots=True)
class Target:
    """What subscriptions are to (calendars or events), with the rules that differ."""

    name: str  # "Calendar" or "Event", as in error messages
    table: Table
    subscriptions: Table
    key: str  # the subscriptions' column naming the calendar or event
    relation: Callable[[str, list[str] | None], Relation]  # (user_id, target ids or None)
    scope_filter: Callable[[AuthSubject], list[ColumnElement[bool]]]
    authorize: Callable[[Session, AuthSubject, str, Action], tuple[Any, int]]
    readable_events: Callable[[str], Any]  # the events whose readers a change affects


_mine = aliased(calendar_rules.calendar_subscriptions, name="mine")


def _calendar_relation(user_id: str, calendar_ids: list[str] | None) -> Relation:
    """The caller's own calendar subscription gives their permission on the calendar."""
    on = and_(_mine.c.calendar_id == calendar_rules.calendars.c.id, _mine.c.user_id == user_id)
    return Relation(_mine, on, _mine.c.permission)


def _event_relation(user_id: str, event_ids: list[str] | None) -> Relation:
    access = event_rules.permission_subquery(user_id, event_ids)
    return Relation(access, access.c.event_id == event_rules.events.c.id, access.c.permission)


CALENDARS = Target(
    name="Calendar",
    table=calendar_rules.calendars,
    subscriptions=calendar_rules.calendar_subscriptions,
    key="calendar_id",
    relation=_calendar_relation,
    scope_filter=calendar_rules.scope_filter,
    authorize=authorize_calendar,
    readable_events=readable.in_calendar,
)
EVENTS = Target(
    name="Event",
    table=event_rules.events,
    subscriptions=event_rules.event_subscriptions,
    key="event_id",
    relation=_event_relation,
    scope_filter=event_rules.scope_filter,
    authorize=authorize_event,
    readable_events=lambda event_id: [event_id],
)


def authorize_share(session: Session, target: Target, subject: AuthSubject, of: str) -> None:
    """SPEC §4: sharing (inviting) needs write permission and grants only invited_*."""
    target.authorize(session, subject, of, Action.SHARE)


def _authorize_grant(
    session: Session, target: Target, subject: AuthSubject, row: Any, wanted: Permission | None
) -> None:
    """Changing someone else's subscription: the sharer's right, and only to GRANTABLE."""
    target.authorize(session, subject, getattr(row, target.key), Action.SHARE)
    if wanted is not None and wanted not in GRANTABLE:
        raise InvalidRequest(
            "Only invited_read, invited_write or removed can be set.",
            fields={"permission": "not allowed"},
        )


def authorize_calendar_change(
    session: Session, subject: AuthSubject, row: Any, wanted: Permission
) -> None:
    if row.user_id == subject.user_id:
        # The subscriber accepts (invited_* -> subscribed_*) or leaves (removed).
        current = Permission(row.permission)
        if wanted is not Permission.REMOVED and ACCEPTED.get(current) is not wanted:
            raise Forbidden("You can only accept this share or leave the calendar.")
    else:
        _authorize_grant(session, CALENDARS, subject, row, wanted)


def authorize_event_change(
    session: Session,
    subject: AuthSubject,
    row: Any,
    *,
    rsvp: bool,
    wanted: Permission | None,
    message: bool,
) -> None:
    """An RSVP answer is the subscriber's; a new permission or message is the sharer's,
    except that the subscriber may leave (permission `removed` without a message)."""
    own = row.user_id == subject.user_id
    if rsvp and not own:
        raise Forbidden("Only the subscriber answers an invitation.")
    if wanted is None and not message:
        return
    if own and wanted is Permission.REMOVED and not message:
        return  # anyone may leave an event
    _authorize_grant(session, EVENTS, subject, row, wanted)


def authorize_removal(session: Session, target: Target, subject: AuthSubject, row: Any) -> None:
    """Leaving is always allowed; removing someone else is the sharer's right."""
    if row.user_id != subject.user_id:
        target.authorize(session, subject, getattr(row, target.key), Action.SHARE)


def accepted_by_attending(permission: int) -> Permission | None:
    """SPEC §4: attending turns invited_* into subscribed_* (None: nothing to accept)."""
    return ACCEPTED.get(Permission(permission))
