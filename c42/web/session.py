"""The browser login session: a signed cookie (`c42_session`) holding who is logged in.

The cookie is signed (itsdangerous, through Starlette's SessionMiddleware) with a key derived
from the server secret; it holds the user id, a fingerprint of the user's password hash, the
login time and the CSRF token. It is `HttpOnly`, `SameSite=Lax`, and `Secure` when the issuer
is HTTPS (SPEC §6).

A session counts only while the user is an active, real (non-sandbox, not closed) account and
the fingerprint still matches: a password reset changes the hash and so ends every browser
session of that user at once (SPEC §5.3), with no server-side session store.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from c42.db import Database
from c42.models import User
from c42.settings import Settings

COOKIE_NAME = "c42_session"
MAX_AGE = 14 * 24 * 3600  # seconds; the cookie's lifetime and the login's absolute limit
_USER = "uid"
_FINGERPRINT = "fp"
_LOGGED_IN_AT = "at"


def derive_key(settings: Settings, purpose: str) -> str:
    """A separate key per purpose, so a value signed for one use never verifies for another."""
    secret = settings.resolved_secret_key().encode()
    return hmac.new(secret, b"c42:" + purpose.encode(), hashlib.sha256).hexdigest()


def password_fingerprint(settings: Settings, password_hash: str | None) -> str:
    """A short keyed digest of the password hash: changes whenever the password changes."""
    key = derive_key(settings, "password-fingerprint").encode()
    return hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()[:16]


def session_data(request: Request) -> dict[str, Any]:
    """The request's session dict (empty and unsaved when the middleware skipped this path)."""
    if "session" not in request.scope:
        return {}
    return request.session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_user_id(request: Request) -> str | None:
    """The logged-in user's id, or None. Blocking (one primary-key read); in async code use
    `current_user_id_async`. The result is remembered on the request."""
    if hasattr(request.state, "web_user_id"):
        cached: str | None = request.state.web_user_id
        return cached
    user_id = _check(request)
    request.state.web_user_id = user_id
    return user_id


async def current_user_id_async(request: Request) -> str | None:
    if hasattr(request.state, "web_user_id"):
        cached: str | None = request.state.web_user_id
        return cached
    return await run_in_threadpool(current_user_id, request)


def _check(request: Request) -> str | None:
    data = session_data(request)
    user_id = data.get(_USER)
    fingerprint = data.get(_FINGERPRINT)
    logged_in_at = data.get(_LOGGED_IN_AT)
    if not isinstance(user_id, str) or not isinstance(fingerprint, str):
        return None
    if not isinstance(logged_in_at, int) or time.time() - logged_in_at > MAX_AGE:
        return None  # absolute lifetime, even if the cookie keeps being refreshed
    db: Database = request.app.state.db
    with db.session(write=False) as session:
        row = session.execute(
            select(User.password_hash).where(
                User.id == user_id,
                User.is_active.is_(True),
                User.sandbox_service_id.is_(None),  # sandbox users never log in (SPEC §5.4)
                User.closed_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    expected = password_fingerprint(_settings(request), row.password_hash)
    if not hmac.compare_digest(expected.encode(), fingerprint.encode()):
        return None  # the password changed since this login: the session has ended
    return user_id


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for `user`. Everything from before (including the CSRF token)
    is dropped first, so a session id planted before login is worthless (session fixation)."""
    data = session_data(request)
    data.clear()
    data[_USER] = user.id
    data[_FINGERPRINT] = password_fingerprint(_settings(request), user.password_hash)
    data[_LOGGED_IN_AT] = int(time.time())
    request.state.web_user_id = user.id


def log_out(request: Request) -> None:
    session_data(request).clear()
    request.state.web_user_id = None
