"""`readable_events`: the read rule of `c42.access.events`, kept as rows for the events list.

One row per user and event the user may read now (`permissions.reads`, event not deleted), with
the event's sort keys and service. Every write that can change who reads what, or an
event's sort keys, calls `refresh` for the rows it affects, in its own transaction, after
its own changes; the rows are recomputed by the rule itself, never patched by hand:

| change                                        | refresh                                  |
|-----------------------------------------------|------------------------------------------|
| event created, changed, moved, deleted        | `event_ids=[event]` (all its users)      |
| event subscription created, changed, removed  | `event_ids=[event], user_id=subscriber`  |
| calendar subscription created/changed/removed | `event_ids=in_calendar(c), user_id=sub.` |
| calendar deleted                              | `event_ids=in_calendar(c)`               |
| sandbox merged (`c42.auth.silent.merge`)      | the moved events, and the sandbox user   |

Concurrency: SQLite has one writer at a time. On PostgreSQL (READ COMMITTED) two writers
could each recompute from a snapshot without the other's uncommitted change (e.g. one shares
a calendar while another adds an event to it), so refreshes take a transaction-scoped
advisory lock first: the second refresh starts after the first commits and sees its change.
Hard deletes need no call: foreign keys cascade into this table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select
from sqlalchemy.orm import Session

from c42.access import events as rules
from c42.access.permissions import reads
from c42.models import ReadableEvent

readable_events = ReadableEvent.__table__
_events = rules.events
_COLUMNS = ("user_id", "event_id", "permission", "service_id", "sync_token", "due", "start")
# pg_advisory_xact_lock key of the refresh ("C42" + 1); any constant no other code uses.
_REFRESH_LOCK = 0xC4201


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
        )
        .join(_events, _events.c.id == access.c.event_id)
        .where(reads(access.c.permission), _events.c.deleted_at.is_(None))
    )


def in_calendar(calendar_id: str) -> Select[Any]:
    """The ids of a calendar's events, as a subquery for `refresh(event_ids=...)`."""
    ec = rules.event_calendars
    return select(ec.c.event_id).where(ec.c.calendar_id == calendar_id)


def refresh(
    work: Session | Connection, *, event_ids: Any | None = None, user_id: str | None = None
) -> None:
    """Recompute the rows of these events (all their users), of this user (all events), or
    of both (the user's rows of these events)."""
    if event_ids is None and user_id is None:
        raise ValueError("refresh needs event_ids, user_id or both; use rebuild for all rows")
    _serialize(work)
    affected = []
    if event_ids is not None:
        affected.append(readable_events.c.event_id.in_(event_ids))
    if user_id is not None:
        affected.append(readable_events.c.user_id == user_id)
    work.execute(delete(readable_events).where(*affected))
    work.execute(insert(readable_events).from_select(_COLUMNS, rule_rows(user_id, event_ids)))


def rebuild(work: Session | Connection) -> None:
    """Recompute every row (after bulk loads: the demo, the benchmark's seed)."""
    _serialize(work)
    work.execute(delete(readable_events))
    work.execute(insert(readable_events).from_select(_COLUMNS, rule_rows()))


def _serialize(work: Session | Connection) -> None:
    """PostgreSQL: one refresh at a time, until commit (see the module's docstring)."""
    dialect = work.get_bind().dialect if isinstance(work, Session) else work.dialect
    if dialect.name == "postgresql":
        work.execute(select(func.pg_advisory_xact_lock(_REFRESH_LOCK)))
