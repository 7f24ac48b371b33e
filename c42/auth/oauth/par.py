"""Pushed authorization requests (RFC 9126, SPEC §11).

`POST /oauth2/par/` authenticates the client as the token endpoint does, keeps the request's
parameters and answers a `request_uri` (`urn:ietf:params:oauth:request_uri:<random>`, only
its digest stored) that lives 60 s and is used once. `/oauth2/authorize/?client_id=..&
request_uri=..` then runs the pushed request: `expand` replaces the query by the pushed
parameters (the client_id must be the pushing client's, RFC 9126 §4) and claims the
request_uri with one conditional UPDATE once the user is logged in (so the login round trip
does not use it up). An app flagged `require_par` is refused any other authorization request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, UnsupportedResponseTypeError
from sqlalchemy import CursorResult, select, update

from c42.auth import secrets
from c42.auth.oauth import dpop
from c42.auth.oauth.client_auth import ANY_METHOD
from c42.auth.oauth.models import Client
from c42.models import OAuthPushedRequest, utcnow

if TYPE_CHECKING:
    from c42.auth.oauth.server import OAuthServer

URN_PREFIX = "urn:ietf:params:oauth:request_uri:"  # RFC 9126 §2.2
LIFETIME = 60  # seconds (SPEC §11)
# Client authentication parameters are not part of the authorization request.
_NOT_KEPT = frozenset({"client_secret", "client_assertion", "client_assertion_type"})
_p = OAuthPushedRequest.__table__


class Refused(Exception):
    """An authorization request refused before it runs: an error page (RFC 9126 §4: the
    redirect URI is not known yet)."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(title)
        self.title = title
        self.message = message


def _bad_uri() -> Refused:
    return Refused(
        "This sign-in link is no longer valid",
        "It expired or was already used. Go back to the app and sign in again.",
    )


class PushedAuthorization:
    """RFC 9126 §2: the pushed authorization request endpoint."""

    ENDPOINT_NAME = "pushed_authorization_request"  # metadata: ..._endpoint (RFC 9126 §5)
    CLIENT_AUTH_METHODS = list(ANY_METHOD)

    def __init__(self, server: OAuthServer) -> None:
        self.server = server

    def create_endpoint_request(self, request: Any) -> Any:
        return self.server.create_oauth2_request(request)

    def __call__(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: Client = self.server.authenticate_client(
            request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME
        )
        form = request.form
        if "request_uri" in form:  # RFC 9126 §2.1: MUST NOT be provided
            raise InvalidRequestError("A pushed request cannot carry request_uri.")
        if form.get("response_type") != "code":
            raise UnsupportedResponseTypeError(
                form.get("response_type"), "Only response_type=code is supported."
            )
        redirect_uri = form.get("redirect_uri")
        if redirect_uri and not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The redirect_uri is not registered for this app.")
        jkt = dpop.pushed_jkt(request)  # RFC 9449 §10.1: dpop_jkt or a DPoP header binds it
        params = [[name, value] for name, value in form.items() if name not in _NOT_KEPT]
        params = [pair for pair in params if pair[0] not in ("client_id", "dpop_jkt")]
        params.append(["client_id", client.client_id])
        if jkt is not None:
            params.append(["dpop_jkt", jkt])
        value = URN_PREFIX + secrets.new_opaque_token()
        now = utcnow()
        session = self.server.session
        session.add(
            OAuthPushedRequest(
                uri_digest=secrets.digest(value),
                app_id=client.id,
                params=params,
                created=now,
                expires_at=now + timedelta(seconds=LIFETIME),
            )
        )
        session.flush()
        body = {"request_uri": value, "expires_in": LIFETIME}
        # RFC 9126 §2.2: 201 Created.
        return 201, body, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def expand(
    server: OAuthServer, params: list[tuple[str, str]], *, claim: bool, sealed: bool = False
) -> list[tuple[str, str]]:
    """The parameters an authorization request runs with: the pushed ones for a request_uri
    (claimed when `claim`), the query itself otherwise; Refused for an error page. `sealed`:
    the parameters come from our own consent form (sealed by the server, made from a pushed
    request when the app requires one)."""
    sent = dict(params)
    client_id = sent.get("client_id", "")
    request_uri = sent.get("request_uri")
    if request_uri is None:
        app = server.query_client(client_id) if client_id else None
        if app is not None and app.app.require_par and not sealed:
            raise Refused(
                "This app signs in differently",
                "This app must start its sign-in from the app itself. Go back and try again.",
            )
        return params
    if len([name for name, _ in params if name == "request_uri"]) != 1:
        raise _bad_uri()
    row = server.session.scalar(
        select(OAuthPushedRequest).where(
            OAuthPushedRequest.uri_digest == secrets.digest(request_uri)
        )
    )
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise _bad_uri()
    if server.client_id_of(row.app_id) != client_id:  # RFC 9126 §4
        raise _bad_uri()
    if claim:
        result = server.session.execute(
            update(OAuthPushedRequest)
            .where(_p.c.id == row.id, _p.c.used_at.is_(None), _p.c.expires_at > now)
            .values(used_at=now)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            raise _bad_uri()
    return [(str(name), str(value)) for name, value in row.params]
