"""The UserInfo endpoint's decision (OIDC Core §5.3), framework-free.

The caller presents an access token (RFC 6750: the Authorization header, or for POST the form
body); the answer is the claims of the token's identity scopes about its user. A token that
is unknown, expired, revoked, of a disabled app or of an account that may not act is
`invalid_token` (401); a valid token without `openid` is `insufficient_scope` (403).
From a web page of another site (CORS), the token must be one of an app that registered that
page's origin — the API's rule, `c42.auth.authenticate.check_origin` — and only then is the
answer readable there.

A DPoP-bound token (RFC 9449) is accepted only with the `DPoP` scheme and a proof by its key,
as on the API (`c42.auth.authenticate.check_binding`, `check_proof`); the endpoint passes the
proof check in as `proof`, a callable answering the proof's key thumbprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from c42.auth import authenticate, scopes, secrets
from c42.auth.dpop import challenges as dpop_challenges
from c42.auth.dpop.proofs import DPoPError
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


def challenge(
    error: str | None = None, description: str | None = None, *, dpop: bool = False
) -> str:
    """RFC 6750 §3: the WWW-Authenticate value (no error code when no token was sent), the
    DPoP challenge beside it (RFC 9449 §7.2). For a token sent with the DPoP scheme (`dpop`),
    the DPoP challenge alone, carrying the error (§7.1), as on the API."""
    if dpop:
        value = dpop_challenges.challenge(REALM, error, description)
        return value + (f', scope="{scopes.OPENID}"' if error == "insufficient_scope" else "")
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if error == "insufficient_scope":
        parts.append(f'scope="{scopes.OPENID}"')
    return "Bearer " + ", ".join(parts) + ", " + dpop_challenges.challenge(REALM)


def refusal(status: int, error: str, description: str, *, dpop: bool = False) -> Answer:
    return Answer(
        status,
        {"error": error, "error_description": description},
        {"WWW-Authenticate": challenge(error, description, dpop=dpop)},
    )


def no_token() -> Answer:
    # RFC 6750 §3.1: a request without any token gets the challenge without an error code.
    body = {"error": "invalid_token", "error_description": "Send an access token."}
    return Answer(401, body, {"WWW-Authenticate": challenge()})


# The endpoint's DPoP proof check: the request's proof for this token -> the proof's jkt, or
# DPoPError. Called only for a token sent with the DPoP scheme.
ProofCheck = Callable[[], str]


def answer(
    db: Database, token: str, origin: str | None = None, proof: ProofCheck | None = None
) -> Answer:
    """`origin`: the normal form of the request's `Origin` when another site's (see
    `c42.cors.foreign_origin`), None for a server or our own pages. `proof`: the token came
    with the DPoP scheme; the check of the request's proof (blocking: may call Redis)."""
    found = _answer(db, token, proof)
    if origin is None or found.status == 401:
        return found
    dpop = proof is not None
    # SPEC §5.3: one app's page cannot use another app's token (nor a server token).
    subject = bearer.lookup(db, secrets.digest(token)).subject
    try:
        if subject is None:
            return refusal(401, "invalid_token", "The access token is not valid.", dpop=dpop)
        authenticate.check_origin(subject, origin)
    except APIError as exc:
        return refusal(401, "invalid_token", exc.message, dpop=dpop)
    return Answer(found.status, found.body, found.headers, readable_by=origin)


def _binding(bound_jkt: str | None, proof: ProofCheck | None) -> Answer | None:
    """RFC 9449 §7.1, §7.2 as on the API: a bound token only with DPoP and a proof by its key,
    an unbound token never with the DPoP scheme. A refusal, or None."""
    if proof is None:
        if bound_jkt is not None:
            return refusal(
                401,
                "invalid_token",
                "This access token is bound to a DPoP key: send it with the DPoP scheme.",
            )
        return None
    if bound_jkt is None:
        return refusal(401, "invalid_token", "This access token is not DPoP-bound.", dpop=True)
    try:
        jkt = proof()
    except DPoPError as exc:
        return refusal(401, exc.code, exc.description, dpop=True)
    if not secrets.same(bound_jkt, jkt):
        description = "The DPoP proof is not by the key this access token is bound to."
        return refusal(401, dpop_challenges.INVALID_PROOF, description, dpop=True)
    return None


def _answer(db: Database, token: str, proof: ProofCheck | None) -> Answer:
    dpop = proof is not None
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
            return refusal(401, "invalid_token", "The access token is not valid.", dpop=dpop)
        user = session.get(User, token_row.user_id)
        if user is None or not user.may_act:
            return refusal(401, "invalid_token", "The access token is not valid.", dpop=dpop)
        refused = _binding(token_row.dpop_jkt, proof)
        if refused is not None:
            return refused
        if scopes.OPENID not in scopes.parse(token_row.scope):
            description = "The access token lacks the openid scope."
            return refusal(403, "insufficient_scope", description, dpop=dpop)
        return Answer(200, dict(claims.user_claims(user, token_row.scope)))
