"""Health checks (SPEC §7): /health and /health/live answer without I/O; /health/ready checks
the database (and Redis when configured) within one second, and names the failed check in a
503 error envelope."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from c42.db import Database
from c42.settings import Settings
from tests.ops.helpers import served

REDIS_URL = "redis://127.0.0.1:6379/0"
OK = {"status": "ok"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


class SilentServer:
    """Accepts TCP connections and never answers: a database that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.accepted.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for connection in self.accepted:
            connection.close()


def _get_timed(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=10)
    return response, time.monotonic() - started


def _assert_not_ready(response: httpx.Response, checks: dict[str, str]) -> None:
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    error = response.json()["error"]
    assert error["status_code"] == 503
    assert error["code"] == "service_unavailable"
    assert error["checks"] == checks
    for name, outcome in checks.items():
        if outcome != "ok":
            assert f"{name} ({outcome})" in error["message"]


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_liveness(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == OK
    assert response.headers["content-type"] == "application/json"


def test_ready_when_the_database_answers(client: httpx.Client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert response.headers["cache-control"] == "no-store"


def _unreachable_database(settings: Settings, port: int) -> tuple[Settings, Database]:
    url = f"postgresql://postgres@127.0.0.1:{port}/c42"
    down = settings.model_copy(update={"database_url": Settings(database_url=url).database_url})
    return down, Database(down.database_url)


def test_a_database_that_refuses_connections_is_not_ready(settings: Settings) -> None:
    down, db = _unreachable_database(settings, _closed_port())
    with served(down, db) as live:
        live_answer = httpx.get(live.url + "/health/live")
        response, seconds = _get_timed(live.url + "/health/ready")
    db.dispose()
    assert live_answer.status_code == 200  # the process itself answers
    _assert_not_ready(response, {"database": "unavailable"})
    assert seconds < 1.5


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_a_database_that_hangs_is_not_ready_within_a_second(
    settings: Settings, silent: SilentServer
) -> None:
    down, db = _unreachable_database(settings, silent.port)
    with served(down, db) as live:
        first, first_seconds = _get_timed(live.url + "/health/ready")
        second, second_seconds = _get_timed(live.url + "/health/ready")
        # One check at a time: the second probe waited for the first one's connection attempt
        # instead of opening another.
        connections = len(silent.accepted)
        silent.close()  # the database goes away: the hanging check fails at once
        time.sleep(0.2)
        after, _ = _get_timed(live.url + "/health/ready")
    db.dispose()
    _assert_not_ready(first, {"database": "timeout"})
    assert 0.9 < first_seconds < 1.8
    # The second probe's outcome is the same check's: still hanging, or failed by now (the
    # engine's own connect timeout).
    outcome = second.json()["error"]["checks"]["database"]
    _assert_not_ready(second, {"database": outcome})
    assert outcome in ("timeout", "unavailable")
    assert second_seconds < 1.8
    assert connections == 1
    _assert_not_ready(after, {"database": "unavailable"})


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")


def test_ready_checks_redis_when_configured(settings: Settings, db: Database) -> None:
    _redis_or_skip()
    with served(settings.model_copy(update={"redis_url": REDIS_URL}), db) as live:
        response = httpx.get(live.url + "/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_an_unreachable_redis_is_not_ready(settings: Settings, db: Database) -> None:
    away = f"redis://127.0.0.1:{_closed_port()}/0"
    with served(settings.model_copy(update={"redis_url": away}), db) as live:
        response, seconds = _get_timed(live.url + "/health/ready")
    _assert_not_ready(response, {"database": "ok", "redis": "unavailable"})
    assert seconds < 1.5
