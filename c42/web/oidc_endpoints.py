"""OpenID Connect endpoints (SPEC §10): discovery, the JWKS, UserInfo and RP-initiated
logout. The protocol decisions are in `c42.auth.oidc`; this module reads HTTP and renders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42 import cors
from c42.auth.dpop.challenges import NONCE_HEADER, USE_NONCE
from c42.auth.dpop.proofs import request_url
from c42.auth.oidc import discovery, keys, logout, userinfo
from c42.db import Database
from c42.models import User
from c42.web import oauth_adapter as adapter
from c42.web.csrf import require_csrf
from c42.web.session import current_login_async, log_out
from c42.web.templating import SELF, redirect, render, render_error_page

router = APIRouter(include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM_TYPE = "application/x-www-form-urlencoded"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json", headers=headers)


# -- discovery and keys ----------------------------------------------------------------------


@router.get(discovery.CONFIGURATION_PATH)
async def openid_configuration(request: Request) -> Response:
    body = discovery.openid_configuration(adapter.config(request))
    return _json(body, headers={"Cache-Control": "max-age=300"})


@router.get(discovery.JWKS_PATH)
@router.get(discovery.JWKS_PATH.rstrip("/"))
async def jwks(request: Request) -> Response:
    """RFC 7517 §5. Cacheable for no longer than a process keeps its key ring, so a client
    sees a new key as soon as any process may sign with it."""
    db: Database = request.app.state.db
    server_key = adapter.config(request).server_key

    def load() -> dict[str, Any]:
        with db.session(write=False) as session:
            ring = keys.ring(session, server_key, create_missing=False)
        if ring.empty:  # the first key is made on first use
            with db.session(write=True) as session:
                ring = keys.ring(session, server_key)
        return ring.jwks()

    body = await run_in_threadpool(load)
    return _json(body, headers={"Cache-Control": f"public, max-age={keys.CACHE_SECONDS}"})


# -- UserInfo (OIDC Core §5.3) -----------------------------------------------------------------


@router.get(discovery.USERINFO_PATH)
@router.get(discovery.USERINFO_PATH.rstrip("/"))
@router.post(discovery.USERINFO_PATH)
@router.post(discovery.USERINFO_PATH.rstrip("/"))
async def userinfo_endpoint(request: Request) -> Response:
    answer = await _userinfo(request)
    response = _json(answer.body, answer.status, {**_NO_STORE, **answer.headers})
    # CORS: preflights are answered in c42.cors; the answer is readable only by an origin of
    # the token's own app (c42.auth.oidc.userinfo).
    response.headers.append("Vary", "Origin")
    for name, value in cors.allow_headers(answer.readable_by) if answer.readable_by else ():
        response.headers.append(name.decode(), value.decode())
    return response


async def _userinfo(request: Request) -> userinfo.Answer:
    headers = request.headers.getlist("authorization")
    body_tokens: list[str] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == _FORM_TYPE:  # RFC 6750 §2.2: the token in the form body
            try:
                form = await adapter.read_form(request)
            except adapter.BadForm:
                return userinfo.refusal(400, "invalid_request", "The form could not be read.")
            body_tokens = [value for name, value in form if name == "access_token"]
    if len(headers) + len(body_tokens) > 1:
        # RFC 6750 §2: one method, one token.
        return userinfo.refusal(400, "invalid_request", "Send exactly one access token.")
    dpop = False
    if body_tokens:
        token = body_tokens[0]
    elif headers:
        scheme, _, rest = headers[0].partition(" ")
        token = rest.strip(" ")
        dpop = scheme.lower() == "dpop"  # RFC 9449 §7.1; RFC 7235 §2.1: case-insensitive
        if (scheme.lower() != "bearer" and not dpop) or not token or " " in token:
            return userinfo.refusal(401, "invalid_token", "Send a Bearer or DPoP access token.")
    else:
        return userinfo.no_token()
    if len(token) > 200 or not token.isascii() or not token.isprintable():
        return userinfo.refusal(401, "invalid_token", "The access token is not valid.", dpop=dpop)
    db: Database = request.app.state.db
    config = adapter.config(request)
    origin = cors.foreign_origin(request.scope, config.issuer)
    checker = config.dpop
    if not dpop:
        return await run_in_threadpool(userinfo.answer, db, token, origin)
    if checker is None:
        return userinfo.refusal(401, "invalid_token", "DPoP is not enabled.", dpop=True)
    raw_path = request.scope.get("raw_path")
    url = request_url(config.issuer, raw_path.decode("latin-1") if raw_path else request.url.path)
    proofs = request.headers.getlist("dpop")

    def proof() -> str:
        # RFC 9449 §4.3, §7.1: for this method and URL, with the ath of this token.
        return checker.check(proofs, method=request.method, url=url, access_token=token).jkt

    answer = await run_in_threadpool(userinfo.answer, db, token, origin, proof)
    if answer.body.get("error") == USE_NONCE:
        answer.headers[NONCE_HEADER] = checker.nonces.current()  # RFC 9449 §9
    return answer


# -- RP-Initiated Logout 1.0 -------------------------------------------------------------------


@router.get(discovery.LOGOUT_PATH)
@router.get(discovery.LOGOUT_PATH.rstrip("/"))
async def logout_page(request: Request) -> Response:
    return await _logout(request, dict(request.query_params), confirmed=False)


@router.post(discovery.LOGOUT_PATH)
async def logout_confirmed(request: Request) -> Response:
    form = await require_csrf(request)
    data = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return await _logout(request, data, confirmed=True)


async def _logout(request: Request, data: dict[str, Any], *, confirmed: bool) -> Response:
    db: Database = request.app.state.db
    config = adapter.config(request)
    login = await current_login_async(request)

    def check() -> tuple[logout.Logout, User | None]:
        with db.session(write=True) as session:  # write: the first key may be made here
            found = logout.check(session, config.server_key, config.issuer, data)
            user = session.get(User, login.user_id) if login else None
            return found, user

    try:
        asked, user = await run_in_threadpool(check)
    except logout.InvalidLogout as exc:
        return render_error_page(request, "This sign-out link is not valid", str(exc), 400)
    if confirmed or login is None:
        # Nothing to confirm without a session; after the POST, the session ends everywhere.
        if login is not None:
            await log_out(request)
        if asked.redirect:
            return redirect(asked.redirect, 303)
        return redirect("/accounts/login/?notice=logged-out", 303)
    context = {
        "title": "Sign out",
        "nav_user": user,
        "app_name": asked.app_name,
        "params": asked.params,
    }
    # The form's answer may redirect to the app: the page's CSP form-action must allow it.
    form_action: tuple[str, ...] = (SELF,)
    if asked.redirect:
        parts = urlsplit(asked.redirect)
        form_action = (
            SELF,
            f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:",
        )
    return render(request, "oidc_logout.html", context, form_action=form_action)
