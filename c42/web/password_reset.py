"""/accounts/password-reset/ (ask for a link by e-mail) and /accounts/password-reset/<token>
(choose a new password). A reset ends every browser session of the user and revokes their
OAuth tokens (SPEC §5.3); the answer to a request never says whether the address exists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42.auth import evictions
from c42.auth.passwords import MIN_PASSWORD_LENGTH
from c42.auth.subject import CredentialKind
from c42.models import User
from c42.ratelimit import RateLimited, RateLimiter
from c42.validation import MAX_PASSWORD_LENGTH, password_problem
from c42.web import account_flows
from c42.web.csrf import require_csrf
from c42.web.forms import db_of, mail_after_response, settings_of, text_field
from c42.web.session import log_out
from c42.web.templating import redirect, render, render_error_page

router = APIRouter(include_in_schema=False)
RESET_PATH = "/accounts/password-reset/"


def _request_form(
    request: Request,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"title": "Reset your password", "email": email, "error": error}
    return render(request, "password_reset.html", context, status_code, headers=headers)


@router.get(RESET_PATH)
async def reset_request_page(request: Request) -> Response:
    return _request_form(request)


@router.post(RESET_PATH)
async def reset_request(request: Request) -> Response:
    form = await require_csrf(request)
    email = text_field(form, "email", 320)
    if not email:
        return _request_form(request, "", "Enter your e-mail address.", 400)
    limiter: RateLimiter = request.app.state.account_mail_limiter
    try:
        await limiter.hit_or_raise_async(request, email)
    except RateLimited as exc:
        error = "Too many attempts. Wait a minute, then try again."
        return _request_form(request, email, error, 429, exc.headers)
    settings = settings_of(request)
    mail = await run_in_threadpool(
        account_flows.password_reset_mail, db_of(request), settings, email
    )
    context = {
        "title": "Check your inbox",
        "paragraphs": [
            "If an account exists for that address, we sent it a link to choose a new "
            "password. The link works for one hour.",
        ],
        "link_url": "/accounts/login/",
        "link_text": "Back to log in",
    }
    response = render(request, "message.html", context)
    response.background = mail_after_response(settings, mail)
    return response


def _invalid_link(request: Request) -> Response:
    return render_error_page(
        request,
        "This link does not work",
        "The password reset link is invalid, has expired or was already used. Ask for a new one.",
        400,
    )


def _new_password_form(
    request: Request, token: str, user: User, error: str | None = None, status_code: int = 200
) -> Response:
    context: dict[str, Any] = {
        "title": "Choose a new password",
        "email": user.email,
        "error": error,
        "action": f"{RESET_PATH}{token}",
        "min_length": MIN_PASSWORD_LENGTH,
    }
    return render(request, "password_reset_form.html", context, status_code)


@router.get(RESET_PATH + "{token}")
async def new_password_page(request: Request, token: str) -> Response:
    user = await run_in_threadpool(
        account_flows.read_reset, db_of(request), settings_of(request), token
    )
    if user is None:
        return _invalid_link(request)
    return _new_password_form(request, token, user)


@router.post(RESET_PATH + "{token}")
async def set_new_password(request: Request, token: str) -> Response:
    form = await require_csrf(request)
    db, settings = db_of(request), settings_of(request)
    user = await run_in_threadpool(account_flows.read_reset, db, settings, token)
    if user is None:
        return _invalid_link(request)
    password = text_field(form, "password", MAX_PASSWORD_LENGTH, strip=False)
    if (error := password_problem(password)) is not None:  # c42.validation: one rule
        return _new_password_form(request, token, user, error, 400)
    assert password is not None  # password_problem refuses None (a field too long or not text)
    changed = await run_in_threadpool(account_flows.reset_password, db, settings, token, password)
    if changed is None:
        return _invalid_link(request)
    # Committed: the revoked OAuth tokens, and every cached credential of the user, stop
    # working in every process now (c42.auth.evictions).
    oauth = [evictions.key(CredentialKind.OAUTH, d) for d in changed.revoked_access_digests]
    request.app.state.evictions.publish(*oauth, evictions.user(changed.user.id))
    await log_out(request)  # this browser too: log in again with the new password
    return redirect("/accounts/login/?notice=password-changed")
