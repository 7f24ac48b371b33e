"""/api/v2/action-tokens/ — create, list, read and revoke Action Tokens (SPEC §5.2).

Managed with a User Token only (`TokenOwner`), by the token's creator and by its holder.
The secret is shown once, in the creation response; afterwards only metadata.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.responses import Response

from c42.auth import evictions
from c42.auth.action_tokens import issuing
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.subject import CredentialKind
from c42.db import current_sync_token
from c42.errors import NotFound
from c42.models import ActionToken
from c42.resources import common
from c42.resources.auth import TokenOwner
from c42.resources.deps import SessionDep
from c42.resources.tokens import endpoint_table
from c42.resources.tokens.user_tokens import SERVER_TOKEN_WARNING
from c42.resources.validation import Body, Id, Text
from c42.validation import ACTION_TOKEN_EXPIRES_IN, ACTION_TOKEN_MAX_GRANTS, ACTION_TOKEN_MAX_USES

router = APIRouter(prefix="/api/v2/action-tokens", tags=["action-tokens"])


class GrantSpec(Body):
    """One endpoint: `{"method": "PATCH", "route": "/api/v2/event-subscriptions/{id}/",
    "params": {"id": "<32 hex>"}}`; `params` pins path parameters to one object."""

    method: Annotated[str, Text(16)]
    route: Annotated[str, Text(300)]
    params: dict[Annotated[str, Text(64)], Annotated[str, Text(64)]] = Field(
        default_factory=dict, max_length=8
    )


class ActionTokenRequest(Body):
    user_id: Id | None = None  # default: the caller
    service_id: Id | None = None  # which service, when delegating is ambiguous
    # Bounds: c42.validation, shared with `c42 action-token create`.
    grants: list[GrantSpec] = Field(min_length=1, max_length=ACTION_TOKEN_MAX_GRANTS)
    expires_in: int | None = Field(
        default=None, ge=ACTION_TOKEN_EXPIRES_IN.low, le=ACTION_TOKEN_EXPIRES_IN.high
    )
    max_uses: int | None = Field(
        default=None, ge=ACTION_TOKEN_MAX_USES.low, le=ACTION_TOKEN_MAX_USES.high
    )
    name: Annotated[str, Text(200)] = ""


def serialize(row: ActionToken) -> dict[str, Any]:
    """Metadata only: never the secret, never its digest."""
    return {
        "id": row.id,
        "name": row.name,
        "user_id": row.user_id,
        "creator_id": row.creator_id,
        "service_id": row.service_id,
        "grants": [dict(g) for g in row.grants],
        "created": common.fmt_dt(row.created),
        "last_used": common.fmt_dt(row.last_used),
        "expires_at": common.fmt_dt(row.expires_at),
        "max_uses": row.max_uses,
        "use_count": row.use_count,
    }


@router.post("/", status_code=201)
def create_action_token(
    request: Request, subject: TokenOwner, session: SessionDep, body: ActionTokenRequest
) -> Response:
    table = endpoint_table.for_app(request.app)
    grants = table.grants((g.method, g.route, g.params) for g in body.grants)
    holder, service_id = issuing.resolve_holder(
        session, subject.user_id, body.user_id, body.service_id
    )
    created = action_tokens.create(
        session,
        user_id=holder.id,
        creator_id=subject.user_id,
        grants=grants,
        service_id=service_id,
        name=body.name,
        expires_in=body.expires_in,
        max_uses=body.max_uses,
    )
    data = {**serialize(created.row), "token": created.token, "warning": SERVER_TOKEN_WARNING}
    return common.one(data, current_sync_token(session), 201)


@router.get("/")
def list_action_tokens(
    subject: TokenOwner,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
) -> Response:
    rows, count = action_tokens.list_for(session, subject.user_id, limit, offset)
    data = [serialize(row) for row in rows]
    return common.envelope(data, count, offset, current_sync_token(session))


@router.get("/{id}/")
def get_action_token(subject: TokenOwner, session: SessionDep, id: str) -> Response:
    row = action_tokens.get_for(session, subject.user_id, common.check_id(id, "Action Token"))
    if row is None:
        raise NotFound("Action Token not found.")
    return common.one(serialize(row), current_sync_token(session))


@router.delete("/{id}/", status_code=204)
def revoke_action_token(
    request: Request, subject: TokenOwner, session: SessionDep, id: str
) -> Response:
    token_digest = action_tokens.revoke(
        session, subject.user_id, common.check_id(id, "Action Token")
    )
    if token_digest is None:
        raise NotFound("Action Token not found.")
    eviction = evictions.key(CredentialKind.ACTION_TOKEN, token_digest)
    request.app.state.evictions.publish_after_commit(session, eviction)
    return Response(status_code=204)
