"""The browser login session, kept server-side (c42.auth.browser_sessions).

The `c42_session` cookie is Starlette's signed session cookie (itsdangerous, key derived from
the server secret), `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the issuer is
HTTPS (SPEC §6). Once logged in it holds one value: the session secret (256 random bits),
whose digest names a `browser_sessions` row. Before login it holds the anonymous pre-session:
the CSRF token of the login and registration forms (and which account this browser just
registered).

Every page request looks the secret up, so ending a session on the server (logout, password
reset, deactivation, an operator) ends it at once for every copy of the cookie. Login starts a
new session and drops everything the browser held before (session fixation); the CSRF token
of a logged-in session is derived from its secret, so it changes at login too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from c42 import audit
from c42.auth import browser_sessions
from c42.auth.browser_sessions import LiveSession
from c42.db import Database
from c42.models import User
from c42.settings import Settings

COOKIE_NAME = "c42_session"
MAX_AGE = int(browser_sessions.MAX_AGE.total_seconds())  # the cookie's Max-Age
_SECRET = "sid"  # the logged-in session's secret
_CSRF = "csrf"  # the anonymous pre-session's CSRF token


def derive_key(settings: Settings, purpose: str) -> str:
    """A separate key per purpose, so a value signed for one use never verifies for another."""
    secret = settings.resolved_secret_key().encode()
    return hmac.new(secret, b"c42:" + purpose.encode(), hashlib.sha256).hexdigest()


def password_fingerprint(settings: Settings, password_hash: str | None) -> str:
    """A short keyed digest of the password hash: changes whenever the password changes
    (makes the e-mailed links single-use, see account_flows)."""
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


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _secret(request: Request) -> str | None:
    value = session_data(request).get(_SECRET)
    return value if isinstance(value, str) and value else None


def current_login(request: Request) -> LiveSession | None:
    """The browser's live session, or None. Blocking (one indexed read); in async code use
    `current_login_async`. The result is remembered on the request. A cookie whose session
    has ended is turned back into an anonymous one."""
    if hasattr(request.state, "web_login"):
        cached: LiveSession | None = request.state.web_login
        return cached
    secret = _secret(request)
    login = browser_sessions.look_up(_db(request), secret) if secret else None
    if secret and login is None:
        session_data(request).pop(_SECRET, None)
    request.state.web_login = login
    return login


async def current_login_async(request: Request) -> LiveSession | None:
    if hasattr(request.state, "web_login"):
        cached: LiveSession | None = request.state.web_login
        return cached
    return await run_in_threadpool(current_login, request)


def current_user_id(request: Request) -> str | None:
    """The logged-in user's id, or None (blocking; see `current_login`)."""
    login = current_login(request)
    return login.user_id if login else None


async def current_user_id_async(request: Request) -> str | None:
    login = await current_login_async(request)
    return login.user_id if login else None


async def log_in(request: Request, user: User) -> None:
    """Start a new server-side session for `user` and make it the browser's. The browser's
    previous session, if any, ends; everything the cookie held (the anonymous CSRF token too)
    is dropped, so a cookie planted or copied before login is worthless after (session
    fixation)."""
    previous = await current_login_async(request)
    db = _db(request)
    user_agent = request.headers.get("user-agent", "")
    ip = request.client.host if request.client else None

    def start() -> browser_sessions.StartedSession:
        with db.session() as session:
            if previous is not None:
                browser_sessions.end_sessions(session, previous.user_id, only=previous.id)
            started = browser_sessions.start(session, user.id, user_agent=user_agent, ip=ip)
            audit.record(
                session,
                audit.Types.LOGIN,
                user_id=user.id,
                actor_id=user.id,
                credential_id=started.session.id,
            )
            return started

    started = await run_in_threadpool(start)
    data = session_data(request)
    data.clear()
    data[_SECRET] = started.secret
    request.state.web_login = started.session


async def log_out(request: Request) -> None:
    """End this browser's session on the server (every copy of the cookie stops working) and
    clear the cookie."""
    login = await current_login_async(request)
    if login is not None:
        db = _db(request)

        def end() -> None:
            with db.session() as session:
                browser_sessions.end_sessions(session, login.user_id, only=login.id)
                audit.record(
                    session,
                    audit.Types.LOGOUT,
                    user_id=login.user_id,
                    actor_id=login.user_id,
                    credential_id=login.id,
                )

        await run_in_threadpool(end)
    session_data(request).clear()
    request.state.web_login = None


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser's session (SPEC §5.3): derived from the session secret
    once logged in; before login a random one kept in the pre-session, created on first use."""
    expected = expected_csrf_token(request)
    if expected is not None:
        return expected
    token = secrets.token_urlsafe(32)
    session_data(request)[_CSRF] = token
    return token


def expected_csrf_token(request: Request) -> str | None:
    """The token a form of this session must carry, or None when the session has none yet."""
    secret = _secret(request)
    if secret is not None:
        # HMAC: the token shows nothing of the secret, and a token of one session (or one
        # from before login) never matches another.
        key = derive_key(_settings(request), "csrf").encode()
        return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
    token = session_data(request).get(_CSRF)
    return token if isinstance(token, str) and len(token) >= 32 else None
