"""/api/v2/user-tokens/ — obtain a User Token with e-mail and password; list; revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.responses import Response

from c42 import accounts
from c42.auth import evictions
from c42.auth.subject import CredentialKind
from c42.auth.user_tokens import repository as user_tokens
from c42.db import current_sync_token
from c42.emails import InvalidEmail
from c42.errors import NotFound, Unauthorized
from c42.ratelimit import RateLimiter
from c42.resources import common
from c42.resources.auth import TokenOwner
from c42.resources.deps import SessionDep
from c42.resources.validation import Body, Text
from c42.validation import USER_TOKEN_EXPIRES_IN

router = APIRouter(prefix="/api/v2/user-tokens", tags=["user-tokens"])
SERVER_TOKEN_WARNING = (
    "This is a server token: keep it secret and never embed it in web or mobile apps."
)


class TokenRequest(Body):
    email: Annotated[str, Text(320)]
    password: Annotated[str, Text(1000)]
    name: Annotated[str, Text(200)] = ""
    expires_in: int | None = Field(
        default=None, ge=USER_TOKEN_EXPIRES_IN.low, le=USER_TOKEN_EXPIRES_IN.high
    )


def _bad_credentials() -> Unauthorized:
    return Unauthorized("Invalid e-mail or password.", code="invalid_credentials")


def _login_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.login_limiter  # created with the app (c42.app)
    return limiter


LoginLimiter = Annotated[RateLimiter, Depends(_login_limiter)]


@router.post("/", status_code=201)
def create_user_token(
    request: Request, session: SessionDep, limiter: LoginLimiter, body: TokenRequest
) -> Response:
    # SPEC §6: the page's login limit, shared; its lock-out audited as the pages' (SPEC §8).
    limiter.hit_or_raise_audited(request, body.email)
    try:
        user = accounts.find_user(session, body.email)
    except InvalidEmail:
        user = None
    outcome = accounts.login_outcome(user, body.password)
    if outcome is not accounts.LoginOutcome.OK:
        # SPEC §8: audited like the pages' failed logins. The refusal rolls the request's
        # transaction back, so the record commits first (nothing else was written).
        accounts.record_login_failure(session, user, outcome)
        session.commit()
    if outcome is accounts.LoginOutcome.INVALID or user is None:
        raise _bad_credentials()
    if outcome is not accounts.LoginOutcome.OK:
        raise Unauthorized("The user account is not active.", code="inactive_user")
    created = user_tokens.create(session, user.id, body.name, body.expires_in)
    data = {
        "id": created.id,
        "token": created.token,
        "name": created.name,
        "created": common.fmt_dt(created.created),
        "expires_at": common.fmt_dt(created.expires_at),
        "warning": SERVER_TOKEN_WARNING,
    }
    response = common.one(data, current_sync_token(session), 201)
    response.headers["Cache-Control"] = "no-store"  # it carries a secret (cf. RFC 6749 §5.1)
    return response


@router.get("/")
def list_user_tokens(subject: TokenOwner, session: SessionDep) -> Response:
    rows = user_tokens.list_for_user(session, subject.user_id)
    data = [
        {
            "id": t.id,
            "name": t.name,
            "created": common.fmt_dt(t.created),
            "last_used": common.fmt_dt(t.last_used),
            "expires_at": common.fmt_dt(t.expires_at),
        }
        for t in rows
    ]
    return common.envelope(data, len(data), 0, current_sync_token(session))


@router.delete("/{id}/", status_code=204)
def revoke_user_token(
    request: Request,
    subject: TokenOwner,
    session: SessionDep,
    id: str,
) -> Response:
    token_digest = user_tokens.revoke(session, subject.user_id, common.check_id(id, "Token"))
    if token_digest is None:
        raise NotFound("Token not found.")
    eviction = evictions.key(CredentialKind.USER_TOKEN, token_digest)
    request.app.state.evictions.publish_after_commit(session, eviction)
    return Response(status_code=204)
