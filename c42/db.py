"""Engines and sessions: one transaction per request, committed by its owner, never by services.

SQLite runs in WAL mode with a busy timeout; write transactions start with `BEGIN IMMEDIATE`
so that two writers queue for the lock instead of failing on a read-to-write upgrade.
PostgreSQL goes through psycopg 3 with a small pool per process, and its hot reads through
`c42.pg_reads` (autocommit connections awaited on the event loop, see `Database.hot_read`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from c42 import compiled, pg_reads, sync
from c42.compiled import Program
from c42.settings import get_settings
from c42.sqlite_lock import WriterLock, writer_lock
from c42.unit_of_work import UnitOfWork

T = TypeVar("T")
WRITE_OPTION = "c42_write"
CONNECT_TIMEOUT_SECONDS = 2  # libpq's (and psycopg's) shortest
POOL_TIMEOUT_SECONDS = 2.0  # waiting for a pooled connection


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return path if path and path != ":memory:" else None


PG_CONNECT_ARGS = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # SPEC §6: errors never quote bound values (e-mails, digests)
        )
        _configure_sqlite(engine, writer_lock(path) if path else None)
        return engine
    # Enough pooled connections for the concurrency of one worker: connections opened past the
    # pool are closed on return, and reconnecting cost more than the queries (measured).
    settings = get_settings()
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # SPEC §7: an unreachable database is an error within seconds, never a hang (c42.outage
        # answers 503): connecting gives up after libpq's shortest timeout, waiting for a free
        # pooled connection as soon; keepalives and TCP_USER_TIMEOUT end a connection whose
        # server went silent (a network partition) instead of waiting on it for minutes.
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=PG_CONNECT_ARGS,
        hide_parameters=True,  # SPEC §6: errors never quote bound values (e-mails, digests)
    )

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # Instead of pool_pre_ping's round trip per checkout (the events list checks out a
        # connection per request): a connection the server closed (restart, failover, idle
        # timeout) is replaced here, and since the server dropped all of them, so is every
        # older connection of the pool, on its next checkout.
        if pg_reads.closed_by_server(dbapi_connection):
            raise InvalidatePoolError("the server closed the connection")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg prepares a statement on its 5th execution; PostgreSQL's default "auto" plan
        # cache mode then still re-plans it on every execution whenever the generic plan's
        # estimate is higher than a custom plan's, which it is for the events page (measured:
        # 970 us per page re-planned, 218 us on the generic plan, same index scans). Our
        # prepared statements are the hot-path ones, keyed lookups whose plan does not depend
        # on the values.
        dbapi_connection.execute(pg_reads.SESSION_SETUP)
        dbapi_connection.commit()

    return engine


def _configure_sqlite(engine: Engine, lock: WriterLock | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        # Straight to the driver: a statement through SQLAlchemy's execution machinery costs
        # more than the transaction it opens (measured on the token endpoint).
        driver = connection.connection.driver_connection
        if not write:
            driver.execute("BEGIN")
            return
        if lock is not None:
            lock.acquire(driver)  # queue for the write lock without busy-sleeping
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            if lock is not None:
                lock.release(driver)
            raise

    if lock is not None:

        @event.listens_for(engine, "checkin")
        def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
            lock.release(dbapi_connection)  # after COMMIT / ROLLBACK has completed

        @event.listens_for(engine, "invalidate")
        def _on_invalidate(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
            lock.release(dbapi_connection)


class ReadWork:
    """A read transaction's DB-API connection, where compiled statements run (a
    `c42.compiled.Runner`, like a unit of work)."""

    __slots__ = ("dbapi", "dialect")

    def __init__(self, dbapi: Any, dialect: Dialect) -> None:
        self.dbapi = dbapi
        self.dialect = dialect


class Database:
    """The engine plus two session factories: reads, and writes (which lock early on SQLite)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        path = _sqlite_file(url)
        # The writers' queue of a SQLite file (the same object make_engine wired in).
        self.writer_lock = writer_lock(path) if path else None
        self._local = threading.local()
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self.read_pools: pg_reads.ReadPools | None = None
        if not self.is_sqlite:
            settings = get_settings()
            _, connect_kwargs = self.engine.dialect.create_connect_args(self.engine.url)
            self.read_pools = pg_reads.ReadPools(
                {**connect_kwargs, **PG_CONNECT_ARGS}, settings.db_pool_size, POOL_TIMEOUT_SECONDS
            )

    async def hot_read(self, program: Program[T]) -> T:
        """A hot-path read (a `c42.compiled` program, e.g. the events page), on the event loop.
        SQLite: inline, in one snapshot (reads take microseconds and never wait for writers in
        WAL mode: a threadpool hop would cost more than the query). PostgreSQL: awaited on an
        autocommit connection of `c42.pg_reads` (one statement is one snapshot; programs of
        several statements take what they need from the first one, see their docstrings)."""
        if self.read_pools is None:
            with self._sqlite_read() as reader:
                return compiled.run(reader, program)
        async with self.read_pools.current().connection() as connection:
            return await compiled.run_async(ReadWork(connection, self.engine.dialect), program)

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception."""
        session = (self._write if write else self._read)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """A write transaction on a Core connection (BEGIN IMMEDIATE on SQLite): committed on
        success, rolled back on any exception. Compiled statements run on it directly; an
        ORM session joins it only if asked for (`uow.session`). For the token endpoint, whose
        hot path needs no ORM: an ORM session's own bookkeeping cost more than its queries."""
        with self._write_engine.connect() as connection, connection.begin():
            work = UnitOfWork(connection)
            try:
                yield work
                work.flush()
            finally:
                work.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A Core connection for reads, in a transaction that ends with COMMIT when nothing
        failed: psycopg deallocates every prepared statement of the connection on ROLLBACK,
        which re-planned hot statements on the next use (~700 us of PostgreSQL CPU, measured)."""
        with self.engine.connect() as connection:
            yield connection
            connection.commit()

    @contextmanager
    def _sqlite_read(self) -> Iterator[ReadWork]:
        """SQLite's hot reads: one connection per thread, kept open (a pool check-out costs
        more than the queries), one snapshot (transaction) per use."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            connection.detach()  # ours for the thread's lifetime, outside the pool
            self._local.connection = connection
        connection.execute("BEGIN")  # one snapshot for all queries of the request
        try:
            yield ReadWork(connection.dbapi_connection, self.engine.dialect)
        finally:
            connection.execute("ROLLBACK")

    def new_session(self, write: bool) -> Session:
        return (self._write if write else self._read)()

    def close_reads(self) -> None:
        """Close the running event loop's hot-read connections (an app shutting down)."""
        if self.read_pools is not None:
            self.read_pools.close_current()

    def dispose(self) -> None:
        if self.read_pools is not None:
            self.read_pools.close_all()
        self.engine.dispose()


# The global sync token (SPEC §4) is decided in `c42.sync`: what a write takes, what a read
# reports (the watermark). Services import these two names.
next_sync_token = sync.take
current_sync_token = sync.current
