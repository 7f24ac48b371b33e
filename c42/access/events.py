"""Who may see and change which event: the relationship rules of SPEC §4, as query filters.

A user's permission on an event: a direct event subscription overrules; otherwise the best
permission among the (not deleted) calendars that contain the event and that the user is
subscribed to. The caller's service restriction (OAuth apps, service-scoped Action Tokens)
narrows the set to events created inside that service.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Subquery,
    and_,
    case,
    exists,
    func,
    select,
    union_all,
)

from c42.access.permissions import Permission, reads
from c42.auth.subject import AuthSubject
from c42.models import Calendar, CalendarSubscription, Event, EventCalendar, EventSubscription
from c42.sqlfunctions import comma_joined

events = Event.__table__
event_calendars = EventCalendar.__table__
event_subscriptions = EventSubscription.__table__
calendars = Calendar.__table__
calendar_subscriptions = CalendarSubscription.__table__


def relations(
    user_id: Any | None = None, event_ids: Any | None = None, *, lost: bool = False
) -> CompoundSelect[str, str, int]:
    """(user_id, event_id, permission) for every user and event related, `removed` included:
    of one user, or of all users when `user_id` is None; of the events `event_ids` (values,
    bind parameters or a subquery of ids) or of all events.

    With `lost`, calendars the user left or that were deleted still relate their events, with
    permission 0: a sync then reports those events as removed (SPEC §4).

    Two disjoint parts, so that only the calendar part needs grouping: the events with a
    direct subscription (it overrules), and the best calendar permission of the others.
    (One GROUP BY over the union of both cost SQLite ~40% more instructions.)
    """
    direct = select(
        event_subscriptions.c.user_id,
        event_subscriptions.c.event_id,
        event_subscriptions.c.permission.label("permission"),
    )
    live = and_(reads(calendar_subscriptions.c.permission), calendars.c.deleted_at.is_(None))
    permission = (
        case((live, calendar_subscriptions.c.permission), else_=int(Permission.REMOVED))
        if lost
        else calendar_subscriptions.c.permission
    )
    has_direct = exists().where(
        event_subscriptions.c.event_id == event_calendars.c.event_id,
        event_subscriptions.c.user_id == calendar_subscriptions.c.user_id,
    )
    via_calendar = (
        select(
            calendar_subscriptions.c.user_id,
            event_calendars.c.event_id,
            func.max(permission).label("permission"),
        )
        .join(
            calendar_subscriptions,
            calendar_subscriptions.c.calendar_id == event_calendars.c.calendar_id,
        )
        .join(calendars, calendars.c.id == event_calendars.c.calendar_id)
        .where(~has_direct)
        .group_by(calendar_subscriptions.c.user_id, event_calendars.c.event_id)
    )
    if not lost:
        via_calendar = via_calendar.where(live)
    if user_id is not None:
        direct = direct.where(event_subscriptions.c.user_id == user_id)
        via_calendar = via_calendar.where(calendar_subscriptions.c.user_id == user_id)
    if event_ids is not None:
        direct = direct.where(event_subscriptions.c.event_id.in_(event_ids))
        via_calendar = via_calendar.where(event_calendars.c.event_id.in_(event_ids))
    return union_all(direct, via_calendar)


def visible_calendar_ids(user_id: Any, event_id: Any) -> Any:
    """The event's calendars that the user can see (subscribed with read permission, not
    deleted), comma-joined in id order; None when there are none. The requester-relative
    `calendar_ids` of SPEC §4: a list never reveals that an event is also in someone's
    private calendar. A scalar subquery correlated to `user_id` and `event_id` (columns of
    the enclosing query); the same order on both databases, so that the rows kept in
    `readable_events` equal the rule string for string."""
    ids = (
        select(event_calendars.c.calendar_id.label("calendar_id"))
        .select_from(event_calendars)
        .join(
            calendar_subscriptions,
            and_(
                calendar_subscriptions.c.calendar_id == event_calendars.c.calendar_id,
                calendar_subscriptions.c.user_id == user_id,
            ),
        )
        .join(calendars, calendars.c.id == event_calendars.c.calendar_id)
        .where(
            event_calendars.c.event_id == event_id,
            reads(calendar_subscriptions.c.permission),
            calendars.c.deleted_at.is_(None),
        )
        # An ordered sub-select: SQLite 3.40's group_concat has no ORDER BY of its own (nor
        # is a sorted sub-select flattened into an aggregate), PostgreSQL aggregates in input
        # order when nothing is joined above the sub-select.
        .order_by(event_calendars.c.calendar_id)
        # Correlated to the enclosing query's tables (explicitly: a sub-select in FROM)
        .correlate_except(event_calendars, calendar_subscriptions, calendars)
        .subquery("visible_calendars")
    )
    return select(comma_joined(ids.c.calendar_id)).scalar_subquery()


def permission_subquery(
    user_id: Any, event_ids: list[Any] | None = None, *, lost: bool = False
) -> Subquery:
    """(event_id, permission) of one user's related events (see `relations`).

    `user_id` and `event_ids` are values or bind parameters (the hot path compiles this once).
    """
    return relations(user_id, event_ids, lost=lost).subquery("access")


def scope_filter(subject: AuthSubject) -> list[ColumnElement[bool]]:
    """Extra conditions on `events` from the credential (not from relationships)."""
    if subject.service_id is not None:
        return [events.c.service_id == subject.service_id]
    return []
