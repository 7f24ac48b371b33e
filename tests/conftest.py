"""Test fixtures: a real database built by our migrations and the real app served over HTTP.

`C42_TEST_DATABASE_URL` picks the database (default: a fresh SQLite file). PostgreSQL's
`public` schema is dropped and rebuilt by the migrations once per run. Tests create their own
users, so they never depend on each other's data and need no per-test cleanup.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, except_, select, text

from c42.access import readable
from c42.app import create_app
from c42.db import Database
from c42.migrate import upgrade
from c42.settings import Settings
from tests.factories import Factory


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("C42_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_root / 'c42-test.sqlite3'}"
    settings = Settings(database_url=url)
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return settings.database_url


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("c42")
    url = _database_url(root)
    upgrade(url)
    return Settings(
        database_url=url,
        secret_key="test-secret-key-" + "x" * 32,
        outbox_dir=root / "outbox",
        access_log=True,
        # The shared server sees every test's logins from 127.0.0.1; rate-limit tests build
        # their own app with small limits (tests/web/test_ratelimit.py).
        rate_limit_login="100000/60",
        rate_limit_token="100000/60",
        purge_interval=0,  # tests/ops/test_purge.py runs purges on databases of its own
    )


@pytest.fixture(scope="session")
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn on a random loopback port, in a background thread."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.app = create_app(settings, db)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings, db)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    # Plain http on loopback: no TLS, so skip loading the CA bundle (~80 ms per client).
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield http


def readable_mismatch(db: Database) -> list[tuple[str, object]]:
    """Rows where `readable_events` and the read rule it keeps disagree (both directions)."""
    kept = select(*readable.readable_events.c)
    rule = readable.rule_rows()
    with db.engine.connect() as connection:
        extra = connection.execute(except_(kept, rule).limit(5)).all()
        missing = connection.execute(except_(rule, kept).limit(5)).all()
    return [("kept, not by the rule", r) for r in extra] + [("missing", r) for r in missing]


@pytest.fixture(autouse=True)
def _readable_events_follow_the_rule(db: Database) -> Iterator[None]:
    """After every test, whatever it wrote: the events list's rows equal the read rule."""
    yield
    mismatch = readable_mismatch(db)
    if mismatch:
        with db.engine.begin() as connection:
            readable.rebuild(connection)  # so that the tests after this one are judged alone
    assert mismatch == []


@pytest.fixture
def factory(db: Database, settings: Settings) -> Factory:
    return Factory(db, settings)
