"""The one Starlette <-> Authlib adapter (STYLE §1).

Reads what Authlib needs from the Starlette request (in async code), runs Authlib
synchronously around its own write transaction (`db.unit_of_work()`:
BEGIN IMMEDIATE on SQLite), turns Authlib's answer into a Starlette response, and, once the
transaction has committed, evicts revoked access tokens from the credential caches of this
and every other process (`evict`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar
from urllib.parse import parse_qsl

import orjson
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from c42.auth import evictions
from c42.auth.oauth import apps, client_auth, flow, metadata, par, wellformed
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oauth.origins import header_origin
from c42.auth.oauth.requests import OAuthRequest, OAuthResponse, Params
from c42.auth.oauth.server import OAuthServer
from c42.auth.subject import CredentialKind
from c42.db import Database

T = TypeVar("T")
Pairs = Sequence[tuple[str, str]]
_FORM_TYPE = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


class BadForm(Exception):
    """The body of a token-endpoint request is not a readable urlencoded form."""


def config(request: Request) -> OAuthConfig:
    oauth_config: OAuthConfig = request.app.state.oauth_config  # built by create_app
    return oauth_config


def evict(request: Request, access_digests: Sequence[str]) -> None:
    """After commit: revoked tokens stop working in this process at once, in the others as
    soon as the eviction reaches them (c42.auth.evictions)."""
    keys = [evictions.key(CredentialKind.OAUTH, token_digest) for token_digest in access_digests]
    request.app.state.evictions.publish(*keys)


async def _serve(request: Request, work: Callable[[OAuthServer], T]) -> T:
    db: Database = request.app.state.db
    settings = config(request)
    revoked: list[str] = []

    def run() -> T:
        with db.unit_of_work() as uow:
            server = OAuthServer(uow, settings)
            result = work(server)
            revoked.extend(server.revoked_access_digests)
        return result  # committed

    lock = db.writer_lock
    if lock is not None and lock.try_reserve():
        # SQLite and no writer ahead of us: the whole transaction takes well under a
        # millisecond, less than a hop to the threadpool and back (measured), so run it here.
        try:
            result = run()
        finally:
            lock.end_reservation()
    else:
        result = await run_in_threadpool(run)
    evict(request, revoked)
    return result


async def read_form(request: Request) -> list[tuple[str, str]]:
    """RFC 6749 §3.2 / §4.1.3: parameters come urlencoded in the body (never the query).
    The body is bounded by the web middleware."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        return []
    if content_type != _FORM_TYPE:
        raise BadForm(f"Send the parameters as {_FORM_TYPE}.")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm("The form body could not be read.") from exc


def client_id_of(request: Request, form: Pairs) -> str | None:
    """The client_id a token request names (HTTP Basic user or form field), for rate limits
    and CORS; None when the request is refused anyway (OAuthServer checks it, then Authlib
    authenticates)."""
    try:
        return client_auth.claimed_client_id(request.headers.getlist("authorization"), Params(form))
    except OAuth2Error:
        return None


def error_response(status: int, error: str, description: str) -> Response:
    """An RFC 6749 §5.2 error body for failures found before Authlib runs."""
    body = {"error": error, "error_description": description}
    return Response(orjson.dumps(body), status, media_type="application/json", headers=_NO_STORE)


def _oauth_request(request: Request, payload: Pairs, form: Pairs) -> OAuthRequest:
    # The public address is the configured issuer (behind a TLS-terminating proxy the app
    # itself may see plain http). Authlib refuses it unless it is https or loopback
    # (RFC 6749 §3.1, §3.2: TLS; RFC 8252 §8.3).
    uri = config(request).issuer + request.url.path
    if request.url.query:
        uri += "?" + request.url.query
    return OAuthRequest(request.method, uri, request.headers, payload, form)


def to_response(answer: OAuthResponse) -> Response:
    if answer.status in (301, 302, 303, 307) and answer.location:
        return RedirectResponse(answer.location, 302, headers={"Cache-Control": "no-store"})
    headers = {name: value for name, value in answer.headers if name.lower() != "content-type"}
    body = orjson.dumps(answer.body) if isinstance(answer.body, dict) else answer.body
    return Response(body, answer.status, media_type="application/json", headers=headers)


def _answer(error: OAuth2Error) -> OAuthResponse:
    status, body, headers = error()
    return OAuthResponse(status, body, headers)


async def authorize(
    request: Request,
    params: Pairs,
    user_id: str | None,
    decision: str | None,
    auth_time: datetime | None = None,
) -> flow.Outcome:
    """The authorization endpoint's outcome for these parameters (query or consent form).
    `auth_time`: the browser session's login time (OpenID Connect)."""
    try:
        _oauth_request(request, params, ())
    except OAuth2Error as error:  # RFC 6749 §3.1: TLS (loopback excepted)
        return flow.ErrorPage("Insecure connection", str(error.description))

    def work(server: OAuthServer) -> flow.Outcome:
        try:
            # RFC 9126 §4: a request_uri runs its pushed parameters (used once logged in).
            run = par.expand(
                server, list(params), claim=user_id is not None, sealed=decision is not None
            )
        except par.Refused as refused:
            return flow.ErrorPage(refused.title, refused.message)
        oauth_request = _oauth_request(request, run, ())
        return flow.authorize(server, oauth_request, user_id, decision, auth_time)

    return await _serve(request, work)


async def token(request: Request, form: Pairs, origin: str | None) -> tuple[Response, bool]:
    """RFC 6749 §3.2: the token endpoint. Returns the response and whether `origin` may read
    it (CORS for registered origins of public apps)."""
    return await _endpoint(request, form, origin, lambda s, r: s.create_token_response(r))


async def revoke(request: Request, form: Pairs, origin: str | None) -> tuple[Response, bool]:
    """RFC 7009 §2."""
    return await _endpoint(
        request, form, origin, lambda s, r: s.create_endpoint_response("revocation", r)
    )


async def introspect(request: Request, form: Pairs) -> Response:
    """RFC 7662 §2."""
    response, _ = await _endpoint(
        request, form, None, lambda s, r: s.create_endpoint_response("introspection", r)
    )
    return response


async def device_authorization(request: Request, form: Pairs) -> Response:
    """RFC 8628 §3.1."""
    response, _ = await _endpoint(
        request, form, None, lambda s, r: s.create_endpoint_response("device_authorization", r)
    )
    return response


async def pushed_authorization(request: Request, form: Pairs) -> Response:
    """RFC 9126 §2."""
    response, _ = await _endpoint(
        request,
        form,
        None,
        lambda s, r: s.create_endpoint_response("pushed_authorization_request", r),
    )
    return response


async def _endpoint(
    request: Request,
    form: Pairs,
    origin: str | None,
    call: Callable[[OAuthServer, OAuthRequest], OAuthResponse],
) -> tuple[Response, bool]:
    try:
        wellformed.check(form)  # SPEC §6: accepted text only, before anything reads the form
        oauth_request = _oauth_request(request, form, form)
    except OAuth2Error as error:
        return to_response(_answer(error)), False
    client_id = client_id_of(request, form)

    def work(server: OAuthServer) -> tuple[OAuthResponse, bool]:
        answer = call(server, oauth_request)
        readable = bool(origin and client_id) and cors_allows(server, str(client_id), origin)
        return answer, readable

    answer, readable = await _serve(request, work)
    return to_response(answer), readable


def cors_allows(server: OAuthServer, client_id: str, origin: str | None) -> bool:
    """Only a public app's own registered origins may read its token responses."""
    app = apps.find(server.uow, client_id)
    if not (app and app.is_public and origin):
        return False
    return origin in {header_origin(registered) for registered in app.cors_origins or ()}


def server_metadata(request: Request) -> dict[str, object]:
    return metadata.authorization_server(config(request))


def resource_metadata(request: Request) -> dict[str, object]:
    query_tokens = bool(request.app.state.settings.allow_query_access_token)
    return metadata.protected_resource(config(request), query_tokens=query_tokens)


def bad_form(exc: BadForm) -> Response:
    return to_response(_answer(InvalidRequestError(str(exc))))
