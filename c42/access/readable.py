"""`readable_events`: the read rule of `c42.access.events`, kept as rows for the events list.

One row per user and event the user may read now (`permissions.reads`, event not deleted), with
the event's sort keys and service, and the event's calendars this user can see (the list's
`calendar_ids`: computed here once per change instead of with three index probes per listed
event per request; its inputs are those of the permission, so the same refreshes keep it
exact). Every write that can change who reads what, or an
event's sort keys, calls `refresh` for the rows it affects, in its own transaction, after
its own changes; the rows are recomputed by the rule itself, never patched by hand:

| change                                        | refresh                                  |
|-----------------------------------------------|------------------------------------------|
| event created, changed, moved, deleted        | `event_ids=[event]` (all its users)      |
| event subscription created, changed, removed  | `event_ids=[event], user_id=subscriber`  |
| calendar subscription created/changed/removed | `event_ids=in_calendar(c), user_id=sub.` |
| calendar deleted                              | `event_ids=in_calendar(c)`               |
| sandbox merged (`c42.sandbox_merge`)          | the moved events, and the sandbox user   |

Concurrency: SQLite has one writer at a time. PostgreSQL (READ COMMITTED) runs writers in
parallel, and a refresh that recomputed from a snapshot without another writer's uncommitted
change would lose it (one shares a calendar while another adds an event to it: each sees
the other's half). So, with no global lock, every refresh first locks what it recomputes:

- the rows of the events whose readable rows it rewrites (`FOR NO KEY UPDATE`, in id order);
- before them, the calendar whose events it recomputes (`in_calendar`), and every write that
  adds an event to a calendar or takes it out locks that calendar first (`lock_calendars`).

Claim: two transactions that rewrite readable rows of one event E hold E's row lock while
they do, so they run one after the other, and the second one's statements (new snapshots
under READ COMMITTED) read everything the first committed. An event refresh and a
subscription refresh lock E by name. A calendar refresh locks the calendar C first; since
every change of C's membership holds C's lock until commit, C's membership cannot change
under it, so the events it then locks are exactly those it recomputes, E included when E is
in C. Every change of an input of the rule (an event, its subscriptions, its calendars, a
calendar subscription, a calendar's deletion) is followed in its own transaction by a refresh
of the rows it affects (table above). So for each event the last transaction to take its
lock recomputes its rows after all others committed, from inputs that no running transaction
still changes below it: the rows end equal to the rule (the suite checks the whole table
after every test). Order: calendars before events, each in id order, so two refreshes never
wait for each other in a cycle (a merge locks the sandbox's calendars before moving events).
Hard deletes need no call: foreign keys cascade into this table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    bindparam,
    delete,
    insert,
    select,
    text,
    union,
)
from sqlalchemy.orm import Session

from c42.access import events as rules
from c42.access.permissions import reads
from c42.models import ReadableEvent

readable_events = ReadableEvent.__table__
_events = rules.events
_COLUMNS = (
    "user_id",
    "event_id",
    "permission",
    "service_id",
    "sync_token",
    "due",
    "start",
    "calendar_ids",
)
_calendars = rules.calendars
# `in_calendar`'s selection carries its calendar, which `refresh` locks first.
_CALENDAR_OPTION = "c42_readable_calendar"


def rule_rows(user_id: Any | None = None, event_ids: Any | None = None) -> Select[Any]:
    """What `readable_events` must hold for these users/events, computed by the rule."""
    access = rules.relations(user_id, event_ids).subquery("access")
    return (
        select(
            access.c.user_id,
            access.c.event_id,
            access.c.permission,
            _events.c.service_id,
            _events.c.sync_token,
            _events.c.due,
            _events.c.start,
            rules.visible_calendar_ids(access.c.user_id, access.c.event_id).label("calendar_ids"),
        )
        .join(_events, _events.c.id == access.c.event_id)
        .where(reads(access.c.permission), _events.c.deleted_at.is_(None))
    )


def in_calendar(calendar_id: str) -> Select[Any]:
    """The ids of a calendar's events, as a subquery for `refresh(event_ids=...)`."""
    ec = rules.event_calendars
    selection = select(ec.c.event_id).where(ec.c.calendar_id == calendar_id)
    return selection.execution_options(**{_CALENDAR_OPTION: calendar_id})


def refresh(
    work: Session | Connection, *, event_ids: Any | None = None, user_id: str | None = None
) -> None:
    """Recompute the rows of these events (all their users), of this user (all events), or
    of both (the user's rows of these events)."""
    if event_ids is None and user_id is None:
        raise ValueError("refresh needs event_ids, user_id or both; use rebuild for all rows")
    if event_ids is None or isinstance(event_ids, list | tuple):
        # The usual case (an event written, a subscription changed): statements built once.
        lock, remove, add = _by_values(event_ids is not None, user_id is not None)
        params = {"refresh_event_ids": list(event_ids or ()), "refresh_user_id": user_id}
        if _is_postgresql(work):
            work.execute(lock, params)
        work.execute(remove, params)
        work.execute(add, params)
        return
    if _is_postgresql(work):
        options = getattr(event_ids, "get_execution_options", dict[str, Any])()
        calendar = options.get(_CALENDAR_OPTION)
        if calendar is not None:
            lock_calendars(work, [calendar])
        _lock_events(work, _recomputed(event_ids, user_id))
    affected: list[ColumnElement[bool]] = []
    if event_ids is not None:
        affected.append(readable_events.c.event_id.in_(event_ids))
    if user_id is not None:
        affected.append(readable_events.c.user_id == user_id)
    work.execute(delete(readable_events).where(*affected))
    work.execute(insert(readable_events).from_select(_COLUMNS, rule_rows(user_id, event_ids)))


@cache
def _by_values(by_events: bool, by_user: bool) -> tuple[Any, Any, Any]:
    """`refresh`'s three statements for event ids given as values and/or one user, with bind
    parameters: built (and compiled) once. Building the rule's statement per write cost ~1 ms
    of worker CPU per event created (subqueries copy their columns, foreign keys included)."""
    event_ids: BindParameter[Any] | None = None
    if by_events:
        event_ids = bindparam("refresh_event_ids", expanding=True)
    user_id: BindParameter[Any] | None = bindparam("refresh_user_id") if by_user else None
    affected: list[ColumnElement[bool]] = []
    if event_ids is not None:
        affected.append(readable_events.c.event_id.in_(event_ids))
    if user_id is not None:
        affected.append(readable_events.c.user_id == user_id)
    return (
        _lock_statement(_recomputed(event_ids, user_id)),
        delete(readable_events).where(*affected),
        insert(readable_events).from_select(_COLUMNS, rule_rows(user_id, event_ids)),
    )


def rebuild(work: Session | Connection) -> None:
    """Recompute every row (after bulk loads: the demo, the benchmark's seed)."""
    if _is_postgresql(work):
        # Every refresh locks event rows (a ROW SHARE lock on the table): none runs meanwhile.
        work.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
    work.execute(delete(readable_events))
    work.execute(insert(readable_events).from_select(_COLUMNS, rule_rows()))


def lock_calendars(work: Session | Connection, calendar_ids: list[str]) -> None:
    """Before adding an event to these calendars or taking it out (PostgreSQL; see the
    module's docstring): lock their rows until commit, in id order."""
    if calendar_ids and _is_postgresql(work):
        work.execute(
            select(_calendars.c.id)
            .where(_calendars.c.id.in_(sorted(set(calendar_ids))))
            .order_by(_calendars.c.id)
            .with_for_update(key_share=True)
        )


def _recomputed(event_ids: Any | None, user_id: Any | None) -> Any:
    """The events whose rows a refresh rewrites: those named, or (a user alone) those the
    user has rows for and those the rule gives the user now."""
    if event_ids is not None:
        return event_ids
    held = select(readable_events.c.event_id).where(readable_events.c.user_id == user_id)
    now = rules.relations(user_id, None).subquery("now")
    return union(held, select(now.c.event_id))


def _lock_events(work: Session | Connection, event_ids: Any) -> None:
    work.execute(_lock_statement(event_ids))


def _lock_statement(event_ids: Any) -> Any:
    # FOR NO KEY UPDATE: waits for (and holds off) UPDATEs of these events and other
    # refreshes, not the foreign-key checks of rows that merely reference them.
    return (
        select(_events.c.id)
        .where(_events.c.id.in_(event_ids))
        .order_by(_events.c.id)
        .with_for_update(key_share=True)
    )


def _is_postgresql(work: Session | Connection) -> bool:
    dialect = work.get_bind().dialect if isinstance(work, Session) else work.dialect
    return bool(dialect.name == "postgresql")
