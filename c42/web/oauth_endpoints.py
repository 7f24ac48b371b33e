"""The OAuth 2.0 endpoints (SPEC §5.3): /oauth2/authorize/ (with the login hand-off and the
consent page), /oauth2/token/, /oauth2/revoke/, /oauth2/introspect/ and the RFC 8414 metadata.

Protocol work happens in `c42.auth.oauth` through `oauth_adapter`; this module does the
browser side (session, CSRF, pages), rate limits and CORS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42 import cors
from c42.auth.oauth import metadata
from c42.auth.oauth.flow import ConsentPrompt, ErrorPage, LoginRequired
from c42.auth.oauth.origins import header_origin
from c42.auth.oidc import prompts
from c42.models import User
from c42.ops import metrics
from c42.ratelimit import RateLimited
from c42.web import consent_request
from c42.web import oauth_adapter as adapter
from c42.web.csrf import FIELD as CSRF_FIELD
from c42.web.csrf import require_csrf
from c42.web.forms import db_of
from c42.web.links import safe_next, with_next
from c42.web.session import csrf_token, current_login_async, current_user_id_async
from c42.web.templating import SELF, redirect, render, render_error_page

router = APIRouter(include_in_schema=False)
AUTHORIZE_PATH = metadata.AUTHORIZATION_PATH
LOGIN_PATH = "/accounts/login/"
_STALE_CONSENT = (
    "This consent page is no longer valid",
    "It expired, or it was opened for another login. Go back to the app and sign in again.",
)


# -- authorization endpoint (RFC 6749 §3.1, §4.1.1) ---------------------------------------


@router.get(AUTHORIZE_PATH)
@router.get("/oauth2/authorize")
async def authorize(request: Request) -> Response:
    params = list(request.query_params.multi_items())
    login = await current_login_async(request)
    user_id, auth_time = (login.user_id, login.auth_time) if login else (None, None)
    outcome = await adapter.authorize(request, params, user_id, None, auth_time)
    return await _answer(request, outcome, params)


@router.post(AUTHORIZE_PATH)
async def consent_answer(request: Request) -> Response:
    """The consent form's POST: CSRF-checked, then Allow issues a code, Deny access_denied,
    for exactly the request the page was shown for (sealed in it); every other field the form
    sends is ignored."""
    form = await require_csrf(request)
    sealed, decision = form.getlist(consent_request.FIELD), form.getlist("decision")
    user_id = await current_user_id_async(request)
    try:
        if len(sealed) != 1 or not isinstance(sealed[0], str):
            raise consent_request.InvalidConsentRequest
        token = str(form[CSRF_FIELD])  # checked by require_csrf
        params = consent_request.unseal(request.app.state.settings, sealed[0], user_id, token)
    except consent_request.InvalidConsentRequest:
        return render_error_page(request, *_STALE_CONSENT, 400)
    answer = decision[0] if len(decision) == 1 and isinstance(decision[0], str) else ""
    login = await current_login_async(request)
    auth_time = login.auth_time if login and login.user_id == user_id else None
    outcome = await adapter.authorize(request, params, user_id, answer, auth_time)
    return await _answer(request, outcome, params)


async def _answer(request: Request, outcome: Any, params: list[tuple[str, str]]) -> Response:
    if isinstance(outcome, ErrorPage):
        # RFC 6749 §4.1.2.1: with an unknown client or redirect URI, never redirect.
        return render_error_page(request, outcome.title, outcome.message, outcome.status_code)
    if isinstance(outcome, LoginRequired):
        if outcome.marker:  # OpenID Connect: the login made now satisfies prompt/max_age
            params = [(k, v) for k, v in params if k != prompts.MARKER]
            params.append((prompts.MARKER, outcome.marker))
        back = safe_next(AUTHORIZE_PATH + "?" + urlencode(params))
        target = with_next(LOGIN_PATH, back)
        if outcome.login_hint:  # OIDC Core §3.1.2.1: fills in the e-mail
            target += ("&" if "?" in target else "?") + urlencode(
                {"login_hint": outcome.login_hint}
            )
        return redirect(target, 302)
    if isinstance(outcome, ConsentPrompt):
        return await _consent_page(request, outcome)
    return adapter.to_response(outcome)


async def _consent_page(request: Request, prompt: ConsentPrompt) -> Response:
    user_id = await current_user_id_async(request)
    db = db_of(request)

    def load() -> User | None:
        with db.session(write=False) as session:
            return session.get(User, user_id)

    user = await run_in_threadpool(load)
    settings = request.app.state.settings
    sealed = consent_request.seal(settings, prompt.params, str(user_id), csrf_token(request))
    context = {
        "title": f"Allow {prompt.app_name}?",
        "nav_user": user,
        "app_name": prompt.app_name,
        "service_name": prompt.service_name,
        "is_public": prompt.is_public,
        "scopes": prompt.scopes,
        "consent_request": sealed,
        "redirect_origin": prompt.redirect_origin,
    }
    # The answer redirects to the client: the page's CSP form-action must allow its origin.
    return render(request, "consent.html", context, form_action=(SELF, prompt.redirect_origin))


# -- token, revocation, introspection (RFC 6749 §3.2, RFC 7009, RFC 7662) --------------------


@router.post(metadata.TOKEN_PATH)
@router.post(metadata.TOKEN_PATH.rstrip("/"))
async def token(request: Request) -> Response:
    origin = header_origin(request.headers.get("origin"))
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    limited = await _rate_limited(request, adapter.client_id_of(request, form))
    if limited is not None:
        # Readable by any registered origin, so that a page can honour Retry-After.
        registered = request.app.state.origins.fresh() or frozenset()
        return _with_cors(limited, origin if origin in registered else None)
    response, readable = await adapter.token(request, form, origin)
    if response.status_code == 200:  # only a registered grant issues: a closed set of labels
        metrics.token_issued(dict(form).get("grant_type", ""))
        request.state.client_id = adapter.client_id_of(request, form)  # authenticated: logged
    return _with_cors(response, origin if readable else None)


@router.post(metadata.REVOCATION_PATH)
@router.post(metadata.REVOCATION_PATH.rstrip("/"))
async def revoke(request: Request) -> Response:
    origin = header_origin(request.headers.get("origin"))
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    response, readable = await adapter.revoke(request, form, origin)
    return _with_cors(response, origin if readable else None)


@router.post(metadata.INTROSPECTION_PATH)
@router.post(metadata.INTROSPECTION_PATH.rstrip("/"))
async def introspect(request: Request) -> Response:
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    return await adapter.introspect(request, form)


@router.post(metadata.DEVICE_AUTHORIZATION_PATH)
@router.post(metadata.DEVICE_AUTHORIZATION_PATH.rstrip("/"))
async def device_authorization(request: Request) -> Response:
    """RFC 8628 §3.1: rate limited like the token endpoint (the device then polls it)."""
    return await _limited_form_call(request, adapter.device_authorization)


@router.post(metadata.PAR_PATH)
@router.post(metadata.PAR_PATH.rstrip("/"))
async def pushed_authorization(request: Request) -> Response:
    """RFC 9126 §2: client authentication and rate limits as at the token endpoint."""
    return await _limited_form_call(request, adapter.pushed_authorization)


async def _read_form(request: Request) -> list[tuple[str, str]] | Response:
    """The endpoint's form fields, or the error answer to a malformed body."""
    try:
        return await adapter.read_form(request)
    except adapter.BadForm as exc:
        return adapter.bad_form(exc)


async def _limited_form_call(
    request: Request, call: Callable[[Request, adapter.Pairs], Awaitable[Response]]
) -> Response:
    """Read the form, rate limit as at the token endpoint (SPEC §6), then `call` it."""
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    limited = await _rate_limited(request, adapter.client_id_of(request, form))
    if limited is not None:
        return limited
    return await call(request, form)


def _with_cors(response: Response, origin: str | None) -> Response:
    """Readable by `origin` (one origin, never `*`); preflights are answered in c42.cors."""
    response.headers.append("Vary", "Origin")
    for name, value in cors.allow_headers(origin) if origin else ():
        response.headers.append(name.decode(), value.decode())
    return response


async def _rate_limited(request: Request, client_id: str | None) -> Response | None:
    """SPEC §6: the token endpoint is rate limited per client IP and per client_id."""
    limiter = getattr(request.app.state, "token_limiter", None)
    if limiter is None:
        return None
    try:
        await limiter.hit_or_raise_async(request, client_id)
    except RateLimited as exc:
        response = adapter.error_response(429, "rate_limited", "Too many requests; retry later.")
        response.headers.update(exc.headers)
        return response
    return None


# -- metadata (RFC 8414 §3) ------------------------------------------------------------------


@router.get(metadata.METADATA_PATH)
async def server_metadata(request: Request) -> Response:
    body = orjson.dumps(adapter.server_metadata(request))
    return Response(body, media_type="application/json", headers={"Cache-Control": "max-age=300"})


@router.get(metadata.PROTECTED_RESOURCE_PATH)
async def resource_metadata(request: Request) -> Response:
    """RFC 9728 §3: the API's protected resource metadata."""
    body = orjson.dumps(adapter.resource_metadata(request))
    return Response(body, media_type="application/json", headers={"Cache-Control": "max-age=300"})
