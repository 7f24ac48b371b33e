"""Storage of browser login sessions: start, look up by digest, end.

A session is a random secret (256 bits) held by the browser; the table holds its SHA-256
digest, the user, the login time and the session's limits. Nothing here knows HTTP: the cookie
side is c42.web.session.

Lifetimes:
- absolute: MAX_AGE (14 days) after login, however active the session is;
- idle: IDLE_TIMEOUT (3 days) without a page request. A weekend away (Friday evening to
  Monday morning is under three days) keeps the login; a browser left unused longer, e.g. on a
  machine the user no longer has, must log in again. The pages guard the account and consent
  to apps, not day-to-day work (that goes through the API's tokens), so an idle limit of hours
  would mostly mean typing the password again for each consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from c42.auth import secrets
from c42.db import Database
from c42.models import BrowserSession, User, utcnow
from c42.models.users import may_act

MAX_AGE = timedelta(days=14)
IDLE_TIMEOUT = timedelta(days=3)
LAST_SEEN_GRANULARITY = timedelta(minutes=1)  # last_seen is written at most once a minute
USER_AGENT_LENGTH = 200
IP_LENGTH = 64

_s = BrowserSession.__table__
_u = User.__table__

# One unique-index read joined with the user's primary key: the session counts only while it
# is live and its user is an account that may act (active, not closed, not a sandbox user:
# SPEC §5.4, sandbox users never log in).
_LOOKUP = (
    select(_s.c.id, _s.c.user_id, _s.c.auth_time, _s.c.last_seen)
    .join(_u, _u.c.id == _s.c.user_id)
    .where(
        _s.c.session_digest == bindparam("digest"),
        _s.c.revoked_at.is_(None),
        _s.c.expires_at > bindparam("now"),
        _s.c.last_seen > bindparam("idle_since"),
        may_act(_u),
    )
)
_TOUCH = (
    update(_s)
    .where(_s.c.id == bindparam("session_id"), _s.c.revoked_at.is_(None))
    .values(last_seen=bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class LiveSession:
    id: str
    user_id: str
    auth_time: datetime  # when the user last proved who they are (OIDC auth_time, max_age)


@dataclass(frozen=True, slots=True)
class StartedSession:
    secret: str  # for the cookie only; never stored
    session: LiveSession


def start(
    session: Session, user_id: str, *, user_agent: str = "", ip: str | None = None
) -> StartedSession:
    """A new session for `user_id`, logged in now. The caller commits."""
    secret = secrets.new_opaque_token()  # 256 bits
    now = utcnow()
    row = BrowserSession(
        session_digest=secrets.digest(secret),
        user_id=user_id,
        created=now,
        last_seen=now,
        expires_at=now + MAX_AGE,
        auth_time=now,
        user_agent=_printable(user_agent)[:USER_AGENT_LENGTH],
        ip=ip[:IP_LENGTH] if ip else None,
    )
    session.add(row)
    session.flush()
    return StartedSession(secret, LiveSession(row.id, user_id, now))


def look_up(db: Database, secret: str) -> LiveSession | None:
    """The live session this secret opens, or None. Blocking: one indexed read, and a write
    of last_seen at most once a minute."""
    now = utcnow()
    parameters = {"digest": secrets.digest(secret), "now": now, "idle_since": now - IDLE_TIMEOUT}
    with db.read() as connection:
        row = connection.execute(_LOOKUP, parameters).first()
    if row is None:
        return None
    if now - row.last_seen > LAST_SEEN_GRANULARITY:
        # A write transaction of its own (BEGIN IMMEDIATE on SQLite), as for User Tokens.
        with db.session(write=True) as session:
            session.execute(_TOUCH, {"session_id": row.id, "now": now})
    return LiveSession(row.id, row.user_id, row.auth_time)


def end_sessions(
    executor: Session | Connection,
    user_id: str,
    *,
    only: str | None = None,
    keep: str | None = None,
) -> int:
    """End the live browser sessions of `user_id`: all of them, `only` one (logout), or all
    but the one to `keep`. Used by logout, password reset, deactivation and operators; takes
    effect in every process at the next page request (nothing caches a session). Runs in the
    caller's transaction; returns how many sessions ended."""
    statement = (
        update(_s)
        .where(_s.c.user_id == user_id, _s.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if only is not None:
        statement = statement.where(_s.c.id == only)
    if keep is not None:
        statement = statement.where(_s.c.id != keep)
    result = executor.execute(statement)
    return int(cast(CursorResult[Any], result).rowcount)


def _printable(text: str) -> str:
    """Control characters dropped (the value is shown on pages and in logs later)."""
    return "".join(ch for ch in text if ch.isprintable())
