"""The database is unreachable (SPEC §7): which errors say so, and what the client is told.

A request that meets the outage — the server refused or dropped the connection, connecting
timed out, no pooled connection came free in time — is answered 503 with `Retry-After`, never
a 500 and never a hang (the timeouts are in `c42.db`). Its transaction never committed, so it
wrote nothing; the next request after the database returns gets a new connection (`c42.db`
drops the dead ones), so the server recovers by itself.

- the API: 503 `service_unavailable` in the error envelope;
- the OAuth endpoints that answer JSON: 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1 names
  this code for the authorization endpoint; C42 uses it at the token, revocation and
  introspection endpoints too, in the §5.2 error body, so a client handles both the same way);
- pages (and the authorization endpoint, which cannot check a redirect URI to send an error
  to): a 503 page (`c42.web.router`).
"""

from __future__ import annotations

import orjson
import psycopg
from sqlalchemy import exc as sa
from starlette.responses import Response

from c42 import errors
from c42.logs import get_logger

RETRY_AFTER = "5"  # seconds: long enough for a restart or failover to finish
MESSAGE = "The service is temporarily unavailable; retry later."
_OAUTH_JSON_PREFIX = "/oauth2/"
_OAUTH_PAGES = ("/oauth2/authorize", "/oauth2/logout")  # browser-facing: a page, never JSON
_CHAIN_LIMIT = 8  # causes and contexts followed
# What a handler registers for; `is_database_unavailable` tells an outage from other errors.
EXCEPTIONS: tuple[type[Exception], ...] = (sa.DBAPIError, sa.TimeoutError, psycopg.Error)
log = get_logger("c42.outage")


def is_database_unavailable(exc: BaseException) -> bool:
    """`exc`, or what it was raised from or while handling, says the database cannot be
    reached: connecting failed or timed out, the connection was lost, or the pool had no
    connection to lend in time."""
    current: BaseException | None = exc
    for _ in range(_CHAIN_LIMIT):
        if current is None:
            return False
        if _unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa.TimeoutError):
        return True  # QueuePool: no connection came free within the pool timeout
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True  # SQLAlchemy saw the connection die
        return _unavailable(exc.orig) if exc.orig is not None else False
    # psycopg: connection failures, lost connections, the server shutting down (57P01) or
    # refusing more connections (53300) are OperationalError; a closed connection used again
    # is InterfaceError. (SQLite's errors are never an outage of a server.) A deadlock or
    # serialization failure (class 40) is a lost race, not an outage: c42.write_retry.
    if (getattr(exc, "sqlstate", None) or "").startswith("40"):
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def is_oauth_json(path: str) -> bool:
    """An /oauth2/ endpoint that answers programs in RFC 6749 JSON."""
    return path.startswith(_OAUTH_JSON_PREFIX) and not path.startswith(_OAUTH_PAGES)


def api_response() -> Response:
    return errors.error_response(503, "service_unavailable", MESSAGE, {"Retry-After": RETRY_AFTER})


def oauth_response() -> Response:
    # RFC 6749 §4.1.2.1 (temporarily_unavailable) in the §5.2 body; §5.1: never cached.
    body = orjson.dumps({"error": "temporarily_unavailable", "error_description": MESSAGE})
    headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store", "Pragma": "no-cache"}
    return Response(body, 503, media_type="application/json", headers=headers)


def logged(exc: BaseException) -> None:
    """One line per refused request (the class only: a database error's text can quote
    values)."""
    log.warning("database unavailable (%s): answered 503", type(exc).__name__)


def json_response(path: str) -> Response:
    """The 503 for a client that is a program: OAuth JSON at /oauth2/, else the API's."""
    return oauth_response() if is_oauth_json(path) else api_response()
