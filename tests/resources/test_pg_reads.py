"""PostgreSQL's hot reads on the event loop (c42.pg_reads, Database.hot_read): autocommit
connections that survive a server-side disconnect, are never reused mid-statement, and give
up waiting for a free connection within the pool timeout. Real PostgreSQL; skipped on SQLite
(whose hot reads run inline, see Database.hot_read)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from c42.db import Database
from c42.pg_reads import ReadPool


@pytest.fixture
def pg(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's hot reads run inline")
    return db


def _pool(db: Database, size: int = 2, timeout: float = 0.5) -> ReadPool:
    _, kwargs = db.engine.dialect.create_connect_args(db.engine.url)
    return ReadPool(kwargs, size, timeout)


async def _pid(pool: ReadPool) -> int:
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT pg_backend_pid()")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def test_connections_are_reused_autocommit_and_planned_generically(pg: Database) -> None:
    async def scenario() -> tuple[int, int, Any, str]:
        pool = _pool(pg)
        first, second = await _pid(pool), await _pid(pool)
        async with pool.connection() as connection:
            mode = await (await connection.execute("SHOW plan_cache_mode")).fetchone()
            autocommit = connection.autocommit
        pool.close()
        return first, second, autocommit, mode[0] if mode else ""

    first, second, autocommit, mode = asyncio.run(scenario())
    assert first == second  # the same backend: pooled, not reconnected per read
    assert autocommit is True  # one statement, one snapshot: no BEGIN/COMMIT round trips
    assert mode == "force_generic_plan"


def test_a_connection_the_server_closed_is_replaced_without_an_error(pg: Database) -> None:
    async def scenario() -> tuple[int, int]:
        pool = _pool(pg)
        before = await _pid(pool)
        with pg.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            admin.commit()
            # pg_terminate_backend only signals: wait until the backend has exited (its goodbye
            # is then on our socket), which took over 20 ms once on a loaded machine.
            for _ in range(250):
                gone = admin.execute(
                    text("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = :pid)"),
                    {"pid": before},
                ).scalar()
                admin.commit()
                if gone:
                    break
                await asyncio.sleep(0.02)
        try:
            after = await _pid(pool)
        except psycopg.OperationalError:
            pytest.fail("a read failed on a connection the server had closed")
        pool.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert after != before


def test_a_read_cancelled_mid_statement_frees_its_slot_and_the_next_read_works(
    pg: Database,
) -> None:
    """A request cancelled while its statement runs (the client went away): the connection is
    either closed or back to idle, never handed out with a statement still running."""

    async def scenario() -> float:
        pool = _pool(pg, size=1)
        started = asyncio.Event()

        async def slow() -> None:
            async with pool.connection() as connection:
                started.set()
                await connection.execute("SELECT pg_sleep(5)")

        task = asyncio.create_task(slow())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with pool.connection() as connection:  # the one slot is free again
            status = connection.info.transaction_status
            cursor = await connection.execute("SELECT 42")
            assert await cursor.fetchone() == (42,)
        pool.close()
        assert status == psycopg.pq.TransactionStatus.IDLE
        return loop.time() - start

    assert asyncio.run(scenario()) < 2.0  # not after the 5 s statement


def test_waiting_for_a_free_connection_gives_up_within_the_timeout(pg: Database) -> None:
    async def scenario() -> float:
        pool = _pool(pg, size=1, timeout=0.3)
        loop = asyncio.get_running_loop()
        async with pool.connection():
            start = loop.time()
            with pytest.raises(PoolTimeout):
                async with pool.connection():
                    pass
            waited = loop.time() - start
        pool.close()
        return waited

    waited = asyncio.run(scenario())
    assert 0.25 <= waited < 1.5


def test_hot_read_runs_a_program_in_one_round_trip_on_the_loop(pg: Database) -> None:
    """`Database.hot_read` gives the events page, its total and the sync token from one
    statement: the same token that `c42.sync.current` reports for the same state."""
    from c42.auth.subject import AuthSubject, CredentialKind
    from c42.resources.events import repository
    from c42.resources.events.repository import EventFilters

    subject = AuthSubject(
        user_id="nobody-at-all", kind=CredentialKind.USER_TOKEN, credential_id="x", is_staff=False
    )

    async def scenario() -> Any:
        page = await pg.hot_read(repository.list_page(subject, EventFilters(), 10, 0))
        pg.close_reads()
        return page

    page = asyncio.run(scenario())
    with pg.session(write=False) as session:
        from c42 import sync

        current = sync.current(session)
    assert page.rows == [] and page.total == 0
    assert page.sync_token <= current  # the watermark never runs ahead of a later read
    assert isinstance(page.sync_token, int)
