"""c42.write_retry on its own: which requests it re-runs, how often, and what it answers when
re-running does not help (the races themselves: tests/resources/test_write_races.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import exc as sa
from starlette.types import Receive, Scope, Send

from c42 import outage, write_retry
from c42.write_retry import ATTEMPTS, WriteRetryMiddleware


def _db_error(error: Exception) -> sa.DBAPIError:
    wrapped = sa.DBAPIError.instance("UPDATE ...", {}, error, psycopg.Error)
    assert isinstance(wrapped, sa.DBAPIError)
    return wrapped


class Flaky:
    """An app that fails `failures` times with `error`, then echoes the body it got."""

    def __init__(self, error: Exception, failures: int, unsafe: bool = False) -> None:
        self.error, self.failures, self.unsafe = error, failures, unsafe
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        if self.unsafe:
            write_retry.mark_unsafe(scope)
        if len(self.bodies) <= self.failures:
            raise self.error
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.bodies[-1]})


def _post(app: Any, method: str = "POST") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=WriteRetryMiddleware(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, "/api/v2/x/", content=b'{"a": 1}')

    return asyncio.run(go())


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize"),
        psycopg.errors.UniqueViolation("duplicate key"),
    ],
)
def test_a_lost_race_is_re_run_with_the_same_body(error: Exception) -> None:
    app = Flaky(_db_error(error), failures=2)
    response = _post(app)
    assert response.status_code == 200
    assert app.bodies == [b'{"a": 1}'] * 3
    assert not outage.is_database_unavailable(_db_error(error))  # not a 503 outage


def test_a_request_that_keeps_losing_is_a_409_conflict() -> None:
    app = Flaky(_db_error(psycopg.errors.DeadlockDetected("deadlock")), failures=99)
    response = _post(app, "PATCH")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert len(app.bodies) == ATTEMPTS


def test_a_request_marked_unsafe_is_never_re_run() -> None:
    app = Flaky(_db_error(psycopg.errors.UniqueViolation("dup")), failures=1, unsafe=True)
    response = _post(app)
    assert response.status_code == 409
    assert len(app.bodies) == 1


def test_other_errors_and_reads_are_not_re_run() -> None:
    app = Flaky(_db_error(psycopg.errors.CheckViolation("check")), failures=1)
    with pytest.raises(sa.DBAPIError):
        _post(app)
    assert len(app.bodies) == 1
    reads = Flaky(_db_error(psycopg.errors.DeadlockDetected("deadlock")), failures=1)
    with pytest.raises(sa.DBAPIError):
        _post(reads, "GET")
    assert len(reads.bodies) == 1
