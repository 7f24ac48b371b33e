"""Database pool use (SPEC §7): connections lent out now, and how many the pool may lend.

Counted from the pool's own events, so that the figure is this process's exact state at any
moment (a scrape served by another worker process reads it from the shared metric files):
a check-out lends a connection; a check-in returns it (invalidated ones too); a detach takes a
lent connection out of the pool for good (SQLite's per-thread read connections, c42.db). A
connection record is marked while lent, because the pool also "checks in" records whose
connection could not be made (database down), which were never lent.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from c42.ops.metrics import DB_POOL_CAPACITY, DB_POOL_IN_USE

_watched: weakref.WeakSet[Engine] = weakref.WeakSet()
_LENT = "c42_lent"  # in the record's record_info, which lives as long as the record


def watch(engine: Engine) -> None:
    """Count `engine`'s pool use (once per engine, however many apps share it)."""
    if engine in _watched:
        return
    _watched.add(engine)
    pool = engine.pool
    if isinstance(pool, QueuePool):
        DB_POOL_CAPACITY.inc(pool.size() + max(pool._max_overflow, 0))

    @event.listens_for(engine, "checkout")
    def _lent(_dbapi: Any, record: Any, _proxy: Any) -> None:
        if not record.record_info.get(_LENT):  # the pool may retry a check-out (reconnect)
            record.record_info[_LENT] = True
            DB_POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:
        if record.record_info.pop(_LENT, False):
            DB_POOL_IN_USE.dec()

    @event.listens_for(engine, "detach")
    def _detached(_dbapi: Any, record: Any) -> None:
        if record.record_info.pop(_LENT, False):
            DB_POOL_IN_USE.dec()
