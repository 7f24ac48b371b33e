"""A write request that lost a race is re-run, never answered 500 (SPEC §4, issue 12).

On PostgreSQL concurrent writers take no global lock (c42.sync), so a write transaction can
lose a race the database detects:

- deadlock (SQLSTATE 40P01) or serialization failure (40001): PostgreSQL aborted this
  transaction so that the other could go on;
- unique violation (23505): a check-then-insert (is the invitee already subscribed?) ran
  while another request inserted the same row; re-run, the check sees the committed row and
  gives the answer it gives sequentially (e.g. sharing twice).

The transaction was rolled back whole (c42.resources.deps), so when nothing of the response
was sent yet the request is re-run from its buffered body, a few times with a short jittered
pause. A request that keeps losing, or one that must not run twice (it consumed a use of an
Action Token, `mark_unsafe`), is answered 409 `conflict` in the error envelope. SQLite queues
writers for one lock (c42.db), so these races do not happen there.
"""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import exc as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from c42 import asgi_body, errors
from c42.logs import get_logger

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "23505"})
ATTEMPTS = 4  # the first run and three re-runs
PAUSE_SECONDS = 0.02  # doubled on each re-run, with jitter
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSAFE = "c42_replay_unsafe"
_CHAIN_LIMIT = 8
log = get_logger("c42.write_retry")


def lost_race(exc: BaseException) -> bool:
    """`exc` (or what it was raised from) is a database error a re-run can resolve."""
    current: BaseException | None = exc
    for _ in range(_CHAIN_LIMIT):
        if current is None:
            return False
        orig = current.orig if isinstance(current, sa.DBAPIError) else current
        if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        current = current.__cause__ or current.__context__
    return False


def mark_unsafe(scope: Scope) -> None:
    """This request did something outside its transaction (e.g. consumed a use of an Action
    Token): it is never re-run."""
    scope.setdefault("state", {})[_UNSAFE] = True


class WriteRetryMiddleware:
    """Re-runs a write request that lost a race (see the module docstring); c42.middleware's
    APIMiddleware puts it around the API's routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        for attempt in range(1, ATTEMPTS + 1):
            started = False

            async def watch(message: Message) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            try:
                await self.app(scope, asgi_body.replay(body, receive), watch)
                return
            except Exception as exc:
                if started or not lost_race(exc):
                    raise
                log.info("write lost a race (%s), attempt %d", type(exc).__name__, attempt)
                if attempt == ATTEMPTS or scope.get("state", {}).get(_UNSAFE):
                    break
                await asyncio.sleep(PAUSE_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        conflict = errors.Conflict("A concurrent change conflicted with this request; retry it.")
        await errors.render(conflict)(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
