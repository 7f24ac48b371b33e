"""The UserInfo endpoint's decision (OIDC Core §5.3), framework-free.

The caller presents an access token (RFC 6750: the Authorization header, or for POST the form
body); the answer is the claims of the token's identity scopes about its user. A token that
is unknown, expired, revoked, of a disabled app or of an account that may not act is
`invalid_token` (401); a valid token without `openid` is `insufficient_scope` (403).
From a web page of another site (CORS), the token must be one of an app that registered that
page's origin — the API's rule, `c42.auth.authenticate.check_origin` — and only then is the
answer readable there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from c42.auth import authenticate, scopes, secrets
from c42.auth.oauth import bearer
from c42.auth.oidc import claims
from c42.db import Database
from c42.errors import APIError
from c42.models import OAuthApp, OAuthToken, User, utcnow

REALM = "c42"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    readable_by: str | None = None  # the foreign origin that may read it (CORS), if any


def challenge(error: str | None = None, description: str | None = None) -> str:
    """RFC 6750 §3: the WWW-Authenticate value (no error code when no token was sent)."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if error == "insufficient_scope":
        parts.append(f'scope="{scopes.OPENID}"')
    return "Bearer " + ", ".join(parts)


def refusal(status: int, error: str, description: str) -> Answer:
    return Answer(
        status,
        {"error": error, "error_description": description},
        {"WWW-Authenticate": challenge(error, description)},
    )


def no_token() -> Answer:
    # RFC 6750 §3.1: a request without any token gets the challenge without an error code.
    body = {"error": "invalid_token", "error_description": "Send an access token."}
    return Answer(401, body, {"WWW-Authenticate": challenge()})


def answer(db: Database, token: str, origin: str | None = None) -> Answer:
    """`origin`: the normal form of the request's `Origin` when another site's (see
    `c42.cors.foreign_origin`), None for a server or our own pages."""
    found = _answer(db, token)
    if origin is None or found.status == 401:
        return found
    # SPEC §5.3: one app's page cannot use another app's token (nor a server token).
    subject = bearer.lookup(db, secrets.digest(token)).subject
    try:
        if subject is None:
            return refusal(401, "invalid_token", "The access token is not valid.")
        authenticate.check_origin(subject, origin)
    except APIError as exc:
        return refusal(401, "invalid_token", exc.message)
    return Answer(found.status, found.body, found.headers, readable_by=origin)


def _answer(db: Database, token: str) -> Answer:
    now = utcnow()
    with db.session(write=False) as session:
        row = session.execute(
            select(OAuthToken, OAuthApp.disabled_at)
            .join(OAuthApp, OAuthApp.id == OAuthToken.app_id)
            .where(OAuthToken.access_digest == secrets.digest(token))
        ).first()
        token_row = row[0] if row is not None else None
        if (
            row is None
            or token_row is None
            or token_row.access_revoked_at is not None
            or token_row.access_expires_at <= now
            or row[1] is not None  # the app is disabled
        ):
            return refusal(401, "invalid_token", "The access token is not valid.")
        user = session.get(User, token_row.user_id)
        if user is None or not user.may_act:
            return refusal(401, "invalid_token", "The access token is not valid.")
        if scopes.OPENID not in scopes.parse(token_row.scope):
            return refusal(403, "insufficient_scope", "The access token lacks the openid scope.")
        return Answer(200, dict(claims.user_claims(user, token_row.scope)))
