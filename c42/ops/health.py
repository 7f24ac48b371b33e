"""Health checks (SPEC §7).

`GET /health` and `GET /health/live`: the process answers (no I/O). `GET /health/ready`: the
database answers a query, and Redis a PING when `C42_REDIS_URL` is set, within one second:
200 `{"status": "ok", "checks": {...}}`, else 503 in the error envelope with the same `checks`
naming the one that failed (`timeout` or `unavailable`).

Each check runs in a thread of its own, at most one at a time: a probe that arrives while a
check still hangs (a database that accepts connections but never answers) waits for that same
check instead of starting another, so probes during an outage never pile up threads or
connections, and never take longer than the timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable

import orjson
import redis
from fastapi import APIRouter, Request
from starlette.responses import Response

from c42 import errors
from c42.db import Database
from c42.logs import describe, get_logger

log = get_logger("c42.health")
TIMEOUT_SECONDS = 1.0
_OK = orjson.dumps({"status": "ok"})

router = APIRouter(include_in_schema=False)  # /health itself is added first by create_app


async def live() -> Response:
    return Response(_OK, media_type="application/json")


router.add_api_route("/health/live", live, methods=["GET"])


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    readiness: Readiness = request.app.state.readiness
    checks = await readiness.run()
    headers = {"Cache-Control": "no-store"}
    if all(outcome == "ok" for outcome in checks.values()):
        body = orjson.dumps({"status": "ok", "checks": checks})
        return Response(body, media_type="application/json", headers=headers)
    failed = ", ".join(f"{name} ({outcome})" for name, outcome in checks.items() if outcome != "ok")
    return errors.error_response(
        503, "service_unavailable", f"Not ready: {failed}.", headers, checks=checks
    )


class Readiness:
    def __init__(self, db: Database, redis_url: str | None) -> None:
        self._checks: dict[str, _Check] = {"database": _Check(lambda: _query(db))}
        if redis_url:
            client = redis.Redis.from_url(
                redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
            self._checks["redis"] = _Check(client.ping)

    async def run(self) -> dict[str, str]:
        """Each check's outcome: `ok`, `unavailable` (it failed) or `timeout`."""
        waiting = {name: asyncio.wrap_future(check.start()) for name, check in self._checks.items()}
        await asyncio.wait(waiting.values(), timeout=TIMEOUT_SECONDS)
        outcomes = {}
        for name, future in waiting.items():
            if not future.done():
                outcomes[name] = "timeout"
                future.add_done_callback(_retrieve)  # its outcome is the next probe's
                continue
            failure = future.exception()
            if failure is not None:
                outcomes[name] = "unavailable"
                log.warning("readiness: %s unavailable: %s", name, describe(failure))
            else:
                outcomes[name] = "ok"
        return outcomes


class _Check:
    """One check, run in its own thread, at most one run at a time."""

    def __init__(self, probe: Callable[[], object]) -> None:
        self._probe = probe
        self._lock = threading.Lock()
        self._running: concurrent.futures.Future[object] | None = None

    def start(self) -> concurrent.futures.Future[object]:
        """The run in progress, or a new one."""
        with self._lock:
            if self._running is None or self._running.done():
                self._running = concurrent.futures.Future()
                threading.Thread(target=self._run, args=(self._running,), daemon=True).start()
            return self._running

    def _run(self, future: concurrent.futures.Future[object]) -> None:
        try:
            future.set_result(self._probe())
        except BaseException as exc:
            future.set_exception(exc)


def _query(db: Database) -> None:
    with db.read() as connection:  # ends with COMMIT (see Database.read)
        connection.exec_driver_sql("SELECT 1")


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: asyncio does not log it as never retrieved
