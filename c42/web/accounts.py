"""/accounts/login/, /accounts/logout/ and the account overview /accounts/."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42.accounts import LoginOutcome
from c42.auth.oauth import apps, metadata
from c42.auth.passwords import MIN_PASSWORD_LENGTH
from c42.models import User
from c42.ratelimit import RateLimited, RateLimiter
from c42.web import account_flows
from c42.web.csrf import require_csrf
from c42.web.forms import db_of, text_field
from c42.web.links import DEFAULT_NEXT, safe_next, with_next
from c42.web.session import current_user_id_async, log_in, log_out
from c42.web.templating import SELF, redirect, render

router = APIRouter(include_in_schema=False)
LOGIN_PATH = "/accounts/login/"

# Messages shown on the login page after a redirect; the query names one, never carries text.
NOTICES = {
    "logged-out": "You are logged out.",
    "password-changed": "Your password was changed. Log in with the new one.",
    "verified": "Your e-mail address is confirmed. Log in to continue.",
}
_FAILURES = {
    LoginOutcome.INVALID: "The e-mail address or password is not right.",
    LoginOutcome.UNVERIFIED: (
        "Confirm your e-mail address first: follow the link we sent you. "
        "To get a new link, register again with the same address."
    ),
    LoginOutcome.INACTIVE: "This account is deactivated.",
}


async def _continues_to(request: Request, next_url: str | None) -> tuple[str, str] | None:
    """(app, service) when the login continues an authorization request (SPEC §8: the page
    names them), else None."""
    if not next_url:
        return None
    parts = urlsplit(next_url)
    if parts.path.rstrip("/") != metadata.AUTHORIZATION_PATH.rstrip("/"):
        return None
    client_id = parse_qs(parts.query).get("client_id", [""])[0]
    db = db_of(request)

    def load() -> tuple[str, str] | None:
        with db.session(write=False) as session:
            return apps.app_and_service_names(session, client_id)

    return await run_in_threadpool(load)


async def _login_form(
    request: Request,
    next_url: str | None,
    *,
    email: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context: dict[str, Any] = {
        "title": "Log in",
        "continues_to": await _continues_to(request, next_url),
        "next_url": next_url,
        "email": email,
        "error": error,
        "notice": notice,
        "register_url": with_next("/accounts/register/", next_url),
        "min_length": MIN_PASSWORD_LENGTH,
    }
    # After login the browser goes to `next`, which may be /oauth2/authorize/ answering with a
    # redirect to the client: a form-action list would block that in Chromium.
    form_action = None if next_url else (SELF,)
    return render(
        request, "login.html", context, status_code, form_action=form_action, headers=headers
    )


@router.get(LOGIN_PATH)
async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    notice = NOTICES.get(request.query_params.get("notice", ""))
    # OpenID Connect `login_hint` (OIDC Core §3.1.2.1): the e-mail filled in; only shown, as
    # the value of an input (escaped by the template).
    hint = request.query_params.get("login_hint", "")
    email = hint[:320] if hint.isprintable() else ""
    return await _login_form(request, next_url, email=email, notice=notice)


@router.post(LOGIN_PATH)
async def login(request: Request) -> Response:
    form = await require_csrf(request)
    next_url = safe_next(form.get("next"))
    email = text_field(form, "email", 320)
    password = text_field(form, "password", 1000, strip=False)
    if not email or not password:
        error = "Enter your e-mail address and your password."
        return await _login_form(request, next_url, email=email or "", error=error, status_code=400)
    limiter: RateLimiter = request.app.state.login_limiter
    try:
        await limiter.hit_or_raise_async(request, email)
    except RateLimited as exc:
        error = "Too many attempts. Wait a minute, then try again."
        return await _login_form(
            request, next_url, email=email, error=error, status_code=429, headers=exc.headers
        )
    outcome, user = await run_in_threadpool(
        account_flows.check_login, db_of(request), email, password
    )
    if outcome is not LoginOutcome.OK or user is None:
        return await _login_form(
            request, next_url, email=email, error=_FAILURES[outcome], status_code=400
        )
    await log_in(request, user)
    return redirect(next_url or DEFAULT_NEXT)


@router.get("/accounts/logout/")
async def logout_page(request: Request) -> Response:
    user = await current_user(request)
    context = {"title": "Log out", "nav_user": user}
    return render(request, "logout.html", context)


@router.post("/accounts/logout/")
async def logout(request: Request) -> Response:
    await require_csrf(request)
    await log_out(request)
    return redirect(LOGIN_PATH + "?notice=logged-out")


@router.get(DEFAULT_NEXT)
async def account_home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return redirect(with_next(LOGIN_PATH, DEFAULT_NEXT), 302)
    return render(request, "account.html", {"title": "Your account", "nav_user": user})


async def current_user(request: Request) -> User | None:
    """The logged-in user of this browser, or None."""
    user_id = await current_user_id_async(request)
    if user_id is None:
        return None
    db = db_of(request)

    def load() -> User | None:
        with db.session(write=False) as session:
            return session.get(User, user_id)

    return await run_in_threadpool(load)
