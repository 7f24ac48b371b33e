"""One SQLite writer at a time across every process serving the same database file.

SQLite already allows only one write transaction at a time, but a writer that finds the lock
taken waits in its busy handler, which sleeps in growing steps (up to 100 ms) and retries.
Under concurrent writers (the token endpoint under load) that leaves the CPU idle while
writers sleep past the moment the lock was freed: throughput collapsed and p99 reached
seconds (bench/RESULTS.md). So write transactions first queue here — a lock per process,
then `flock` on a sidecar file shared by all processes — whose waiters wake as soon as the
holder lets go. SQLite's own locking still guarantees correctness; this only orders writers.

The lock is taken when a write transaction begins (`BEGIN IMMEDIATE`) and released when its
connection goes back to the pool, i.e. after COMMIT or ROLLBACK has completed. A caller that
wants to run a short write transaction inline on the event loop first `try_reserve()`s it:
the event loop must never wait for a writer of its own process, which may itself be waiting
for the event loop (a request's transaction can span awaits).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

WAIT_SECONDS = 30.0  # as SQLite's busy timeout: then "database is locked", as before
_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(database_path: str) -> WriterLock:
    """The process's one lock for this database file, shared by all its engines (so that within
    a process only the thread lock, which has a timeout, is ever waited on)."""
    key = os.path.realpath(database_path)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = WriterLock(key)
        return lock


class WriterLock:
    """A per-process lock (only one thread of a process writes at a time) in front of an
    flock shared by all processes (only one process writes at a time)."""

    def __init__(self, database_path: str) -> None:
        self._path = database_path + ".writer-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self.owner: Any = None  # the DB-API connection whose transaction holds the lock
        self._reserved_for: int | None = None  # thread holding the process lock by try_reserve()

    def _file(self) -> int:
        # An open file description shared with a forked parent would share its flock too:
        # each process opens its own.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def try_reserve(self) -> bool:
        """Take the process's lock for the write transactions this thread is about to run,
        unless another thread of this process holds it (False: never wait for those, they may
        be waiting for this event loop). The cross-process lock is taken only when each
        transaction begins: another process's writer is waited for then (it does not depend
        on this process, and holds the lock only from BEGIN to COMMIT)."""
        if not self._thread_lock.acquire(blocking=False):
            return False
        self._reserved_for = threading.get_ident()
        return True

    def end_reservation(self) -> None:
        if self._reserved_for == threading.get_ident():
            self._reserved_for = None
            self._thread_lock.release()

    def acquire(self, dbapi_connection: Any) -> None:
        """At BEGIN IMMEDIATE of a write transaction."""
        reserved = self._reserved_for == threading.get_ident()
        if not reserved and not self._thread_lock.acquire(timeout=WAIT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)  # blocking: wakes when the holder unlocks
        except BaseException:
            if not reserved:
                self._thread_lock.release()
            raise
        self.owner = dbapi_connection

    def release(self, dbapi_connection: Any) -> None:
        """After COMMIT or ROLLBACK (called for every check-in: a no-op for other
        connections)."""
        if dbapi_connection is None or self.owner is not dbapi_connection:
            return
        self.owner = None
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            if self._reserved_for != threading.get_ident():
                self._thread_lock.release()  # else the reservation keeps it until it ends
