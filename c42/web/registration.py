"""/accounts/register/ and /accounts/verify/<token> (SPEC §5.3: registration sends a
verification e-mail; the account becomes active when the link is followed).

The link logs the person in directly only in the browser that registered (the session holds
which account it registered). Anywhere else the link asks for the account's password first:
otherwise someone could register a victim's address with a password of their own, and the
victim's single click on "confirm" would activate an account the other person can log in to.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42.auth.passwords import MIN_PASSWORD_LENGTH, verify_password
from c42.emails import InvalidEmail, normalise_email
from c42.models import User
from c42.ratelimit import RateLimited, RateLimiter
from c42.validation import MAX_PASSWORD_LENGTH, password_problem
from c42.web import account_flows
from c42.web.csrf import require_csrf
from c42.web.forms import db_of, mail_after_response, settings_of, text_field
from c42.web.links import DEFAULT_NEXT, safe_next, with_next
from c42.web.session import log_in, session_data
from c42.web.templating import redirect, render, render_error_page

router = APIRouter(include_in_schema=False)
REGISTER_PATH = "/accounts/register/"
_REGISTERED = "reg"  # session key: the account this browser registered
_FIELD_ORDER = ("first_name", "last_name", "email", "password")


def _register_form(
    request: Request,
    next_url: str | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    context: dict[str, Any] = {
        "title": "Create your account",
        "next_url": next_url,
        "values": values or {},
        "errors": errors or {},
        "error": error,
        "login_url": with_next("/accounts/login/", next_url),
        "min_length": MIN_PASSWORD_LENGTH,
        # Without JavaScript, autofocus is how the first field to fix gets the focus.
        "focus": next((name for name in _FIELD_ORDER if name in (errors or {})), "first_name"),
    }
    return render(request, "register.html", context, status_code, headers=headers)


@router.get(REGISTER_PATH)
async def register_page(request: Request) -> Response:
    return _register_form(request, safe_next(request.query_params.get("next")))


@router.post(REGISTER_PATH)
async def register(request: Request) -> Response:
    form = await require_csrf(request)
    next_url = safe_next(form.get("next"))
    email = text_field(form, "email", 320)
    password = text_field(form, "password", MAX_PASSWORD_LENGTH, strip=False)
    first_name = text_field(form, "first_name", 150)
    last_name = text_field(form, "last_name", 150)
    values = {"email": email or "", "first_name": first_name or "", "last_name": last_name or ""}
    errors: dict[str, str] = {}
    try:
        normalise_email(email or "")
    except InvalidEmail:
        errors["email"] = "Enter a valid e-mail address, like name@example.com."
    if (problem := password_problem(password)) is not None:  # c42.validation: one rule
        errors["password"] = problem
    if not first_name:
        errors["first_name"] = "Enter your first name (at most 150 characters)."
    if last_name is None:
        errors["last_name"] = "Use at most 150 characters."
    if errors:
        return _register_form(request, next_url, values, errors, 400)
    assert email and password and first_name and last_name is not None
    limiter: RateLimiter = request.app.state.account_mail_limiter
    try:
        await limiter.hit_or_raise_async(request, email)
    except RateLimited as exc:
        error = "Too many attempts. Wait a minute, then try again."
        return _register_form(request, next_url, values, None, 429, error, exc.headers)
    settings = settings_of(request)
    outcome = await run_in_threadpool(
        account_flows.register,
        db_of(request),
        settings,
        email,
        password,
        first_name,
        last_name,
        next_url,
    )
    # Always written, so the response looks the same whether or not a link was sent.
    session_data(request)[_REGISTERED] = outcome.user_id or secrets.token_hex(16)
    context = {
        "title": "Check your inbox",
        "paragraphs": [
            f"We sent a message to {normalise_email(email)}. "
            "Follow the link in it to confirm your address and activate your account.",
            "No message after a few minutes? Check your spam folder, or register again.",
        ],
    }
    response = render(request, "message.html", context)
    response.background = mail_after_response(settings, outcome.mail)
    return response


def _invalid_link(request: Request) -> Response:
    return render_error_page(
        request,
        "This link does not work",
        "The confirmation link is invalid, has expired or was already used. "
        "If your account is confirmed, log in; otherwise register again to get a new link.",
        400,
    )


@router.get("/accounts/verify/{token}")
async def verify_page(request: Request, token: str) -> Response:
    db, settings = db_of(request), settings_of(request)
    pending = await run_in_threadpool(account_flows.read_verification, db, settings, token)
    if pending is None:
        return _invalid_link(request)
    if session_data(request).get(_REGISTERED) == pending.user.id:
        return await _activate_and_log_in(request, token)
    return _confirm_form(request, token, pending.user)


@router.post("/accounts/verify/{token}")
async def verify(request: Request, token: str) -> Response:
    form = await require_csrf(request)
    db, settings = db_of(request), settings_of(request)
    pending = await run_in_threadpool(account_flows.read_verification, db, settings, token)
    if pending is None:
        return _invalid_link(request)
    password = text_field(form, "password", MAX_PASSWORD_LENGTH, strip=False) or ""
    limiter: RateLimiter = request.app.state.login_limiter
    try:
        await limiter.hit_or_raise_async(request, pending.user.email)
    except RateLimited as exc:
        error = "Too many attempts. Wait a minute, then try again."
        return _confirm_form(request, token, pending.user, error, 429, exc.headers)
    matches = await run_in_threadpool(verify_password, pending.user.password_hash, password)
    if not matches:
        error = "That is not the password this account was registered with."
        return _confirm_form(request, token, pending.user, error, 400)
    return await _activate_and_log_in(request, token)


def _confirm_form(
    request: Request,
    token: str,
    user: User,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {
        "title": "Confirm your e-mail address",
        "email": user.email,
        "error": error,
        "action": f"/accounts/verify/{token}",
    }
    # The POST ends in a redirect to the `next` of the registration (possibly through
    # /oauth2/authorize/ to a client), so no form-action list here; see templating.
    return render(request, "verify.html", context, status_code, form_action=None, headers=headers)


async def _activate_and_log_in(request: Request, token: str) -> Response:
    db, settings = db_of(request), settings_of(request)
    activated = await run_in_threadpool(account_flows.activate, db, settings, token)
    if activated is None:
        return _invalid_link(request)
    await log_in(request, activated.user)  # a fresh session; drops the registration marker too
    return redirect(safe_next(activated.next_url) or DEFAULT_NEXT)
