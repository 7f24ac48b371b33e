"""PostgreSQL hot reads on the event loop: a small pool of autocommit psycopg AsyncConnections.

Why (measured in bench/RESULTS.md, "Fifth session"): a read through the threadpool cost ~110 us
of worker CPU per request in thread hand-offs, and the REPEATABLE READ transaction around it
a BEGIN and a COMMIT round trip (~50 us of worker CPU and ~50 us of backend CPU). A hot read is
one statement (the events page with its count and sync token), which is one snapshot by itself,
so it runs in autocommit mode: one round trip, awaited on the event loop. Statements are
prepared by psycopg on their 5th execution and kept (an autocommit connection never rolls
back, which is what drops them), planned once with `plan_cache_mode = force_generic_plan`.

One pool per event loop (connections belong to the loop that opened them). A pooled
connection that the server closed is noticed without a round trip (`closed_by_server`) and
replaced; one left mid-statement (the request was cancelled) or broken is closed, never
reused. Failures are psycopg errors and `sqlalchemy.exc.TimeoutError`, which `c42.outage`
turns into 503s like those of the other pool.
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import TimeoutError as PoolTimeout

SESSION_SETUP = "SET plan_cache_mode = force_generic_plan"  # see c42.db.make_engine


def closed_by_server(dbapi_connection: Any) -> bool:
    """Whether a pooled (idle) PostgreSQL connection is dead, without a round trip: an idle
    connection has nothing to read, so anything readable is the server's goodbye (its error
    message or the end of the stream). One poll(2) of the socket."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class ReadPool:
    """Up to `size` autocommit connections of one event loop; waiting for one gives up after
    `timeout` seconds (SPEC §7: an error within seconds, never a hang)."""

    def __init__(self, connect_kwargs: Mapping[str, Any], size: int, timeout: float) -> None:
        self._kwargs = dict(connect_kwargs)
        self._timeout = timeout
        self._free = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._free.locked():  # all in use: wait, but not for long
            try:
                await asyncio.wait_for(self._free.acquire(), self._timeout)
            except TimeoutError:
                raise PoolTimeout("no free PostgreSQL read connection") from None
        else:
            await self._free.acquire()  # at once
        connection = None
        try:
            connection = self._reuse() or await self._connect()
            yield connection
        finally:
            if connection is not None:
                self._give_back(connection)
            self._free.release()

    def _reuse(self) -> psycopg.AsyncConnection[Any] | None:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: warm, surely alive
            if not closed_by_server(connection):
                return connection
            # The server went away (restart, failover, idle timeout): so did the older ones.
            for dead in [connection, *self._idle]:
                _discard(dead)
            self._idle.clear()
        return None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(**self._kwargs, autocommit=True)
        try:
            await connection.execute(SESSION_SETUP)
        except BaseException:
            _discard(connection)
            raise
        return connection

    def _give_back(self, connection: psycopg.AsyncConnection[Any]) -> None:
        idle = connection.info.transaction_status == TransactionStatus.IDLE
        if connection.closed or connection.broken or not idle:
            _discard(connection)  # cancelled mid-statement, or lost: never reused
        else:
            self._idle.append(connection)

    def close(self) -> None:
        for connection in self._idle:
            _discard(connection)
        self._idle.clear()


def _discard(connection: psycopg.AsyncConnection[Any]) -> None:
    """Close without awaiting (the socket is closed at once; nothing to tell the server)."""
    if not connection.closed:
        connection.pgconn.finish()


class ReadPools:
    """The read pool of each running event loop (one in a uvicorn worker)."""

    def __init__(self, connect_kwargs: Mapping[str, Any], size: int, timeout: float) -> None:
        self._args = (connect_kwargs, size, timeout)
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadPool] = (
            weakref.WeakKeyDictionary()
        )

    def current(self) -> ReadPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = ReadPool(*self._args)
        return pool

    def close_current(self) -> None:
        """Close the running loop's connections (at shutdown of the app that used them)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            pool.close()

    def close_all(self) -> None:
        for pool in list(self._pools.values()):
            pool.close()
        self._pools.clear()
