"""Storage of Action Tokens (SPEC §5.2): create, look up by digest, count uses, list, revoke.

Only the SHA-256 digest of a token is stored. Grants are kept as JSON:
`[{"method": "PATCH", "route": "/api/v2/event-subscriptions/{id}/", "params": {"id": "..."}}]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import secrets
from c42.auth.subject import Grant
from c42.db import Database
from c42.models import ActionToken, ServiceSubscription, User, utcnow
from c42.models.users import may_act

_t = ActionToken.__table__
_u = User.__table__
_ss = ServiceSubscription.__table__
_creator = _u.alias("creator")
_creator_ss = _ss.alias("creator_ss")

# The holder still actively subscribed to the token's service (service-restricted tokens).
_HOLDER_SUBSCRIBED = exists().where(
    _ss.c.user_id == _t.c.user_id, _ss.c.service_id == _t.c.service_id, _ss.c.is_active
)
# The creator of a token for someone else is still an active admin of that service.
_CREATOR_ADMIN = exists().where(
    _creator_ss.c.user_id == _t.c.creator_id,
    _creator_ss.c.service_id == _t.c.service_id,
    _creator_ss.c.is_active,
    _creator_ss.c.is_admin,
    _creator.c.id == _t.c.creator_id,
    may_act(_creator),
)
_LOOKUP = (
    select(
        _t.c.id,
        _t.c.user_id,
        _t.c.creator_id,
        _t.c.grants,
        _t.c.service_id,
        _t.c.expires_at,
        _t.c.max_uses,
        _t.c.use_count,
        _t.c.revoked_at,
        _t.c.last_used,
        _u.c.is_active,
        _u.c.sandbox_service_id,
        _u.c.closed_at,
        _HOLDER_SUBSCRIBED.label("holder_subscribed"),
        _CREATOR_ADMIN.label("creator_admin"),
    )
    .join(_u, _u.c.id == _t.c.user_id)
    .where(_t.c.digest == bindparam("digest"))
)
# One use, atomically: the row lock (PostgreSQL) or the write lock (SQLite) serialises
# concurrent requests, and the WHERE is re-checked on the latest row version, so a token with
# max_uses = N succeeds exactly N times however many requests race for it.
_COUNT_USE = (
    update(_t)
    .where(
        _t.c.id == bindparam("token_id"),
        _t.c.revoked_at.is_(None),
        or_(_t.c.max_uses.is_(None), _t.c.use_count < _t.c.max_uses),
    )
    .values(use_count=_t.c.use_count + 1, last_used=bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class CreatedActionToken:
    row: ActionToken
    token: str  # the secret, shown once


def grants_to_json(grants: Sequence[Grant]) -> list[dict[str, Any]]:
    return [{"method": g.method, "route": g.route, "params": dict(g.params)} for g in grants]


def grants_from_json(value: Any) -> tuple[Grant, ...]:
    """Stored grants back to values; anything malformed yields no grant (fail closed)."""
    if not isinstance(value, list):
        return ()
    grants: list[Grant] = []
    for item in value:
        if not isinstance(item, dict):
            return ()
        method, route, params = item.get("method"), item.get("route"), item.get("params") or {}
        if not isinstance(method, str) or not isinstance(route, str):
            return ()
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            return ()
        grants.append(Grant(method, route, tuple(sorted(params.items()))))
    return tuple(grants)


def lookup(connection: Connection, token_digest: str) -> Any:
    return connection.execute(_LOOKUP, {"digest": token_digest}).first()


def count_use(db: Database, token_id: str) -> bool:
    """Count one use in its own committed transaction; False when none is left (or revoked)."""
    with db.session(write=True) as session:
        result = session.execute(_COUNT_USE, {"token_id": token_id, "now": utcnow()})
        assert isinstance(result, CursorResult)  # an UPDATE's result: it has a rowcount
        return result.rowcount == 1


def create(
    session: Session,
    *,
    user_id: str,
    creator_id: str,
    grants: Sequence[Grant],
    service_id: str | None = None,
    name: str = "",
    expires_in: int | None = None,
    max_uses: int | None = None,
) -> CreatedActionToken:
    secret = secrets.new_server_token()
    now = utcnow()
    row = ActionToken(
        user_id=user_id,
        creator_id=creator_id,
        digest=secrets.digest(secret),
        name=name,
        grants=grants_to_json(grants),
        service_id=service_id,
        created=now,
        expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
        max_uses=max_uses,
        use_count=0,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        audit.Types.CREDENTIAL_ISSUED,
        user_id=user_id,
        actor_id=creator_id,
        service_id=service_id,
        credential_id=row.id,
        kind="action_token",
    )
    return CreatedActionToken(row, secret)


def _visible_to(user_id: str) -> Any:
    """The live tokens a user created or holds (both may see and revoke them)."""
    return and_(
        or_(ActionToken.creator_id == user_id, ActionToken.user_id == user_id),
        ActionToken.revoked_at.is_(None),
    )


def list_for(
    session: Session, user_id: str, limit: int, offset: int
) -> tuple[list[ActionToken], int]:
    count = session.scalar(select(func.count()).select_from(_t).where(_visible_to(user_id)))
    rows: list[ActionToken] = []
    if limit and (count or 0) > offset:
        rows = list(
            session.scalars(
                select(ActionToken)
                .where(_visible_to(user_id))
                .order_by(ActionToken.created.desc(), ActionToken.id)
                .limit(limit)
                .offset(offset)
            )
        )
    return rows, int(count or 0)


def get_for(session: Session, user_id: str, token_id: str) -> ActionToken | None:
    return session.scalar(
        select(ActionToken).where(ActionToken.id == token_id, _visible_to(user_id))
    )


def revoke(session: Session, user_id: str, token_id: str) -> str | None:
    """Revoke a live token the user created or holds; returns its digest (to evict caches)."""
    row = get_for(session, user_id, token_id)
    if row is None:
        return None
    row.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        audit.Types.CREDENTIAL_REVOKED,
        user_id=row.user_id,
        actor_id=user_id,
        service_id=row.service_id,
        credential_id=row.id,
        kind="action_token",
    )
    return row.digest


def delegable_services(session: Session, admin_id: str, user_id: str) -> list[str]:
    """Services the caller actively administers and the user is actively subscribed to."""
    admin_ss, member_ss = _ss.alias("admin_ss"), _ss.alias("member_ss")
    rows = session.execute(
        select(admin_ss.c.service_id)
        .join(member_ss, member_ss.c.service_id == admin_ss.c.service_id)
        .where(
            admin_ss.c.user_id == admin_id,
            admin_ss.c.is_admin,
            admin_ss.c.is_active,
            member_ss.c.user_id == user_id,
            member_ss.c.is_active,
        )
        .order_by(admin_ss.c.service_id)
    )
    return [row.service_id for row in rows]


def is_subscribed(session: Session, user_id: str, service_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    _ss.c.user_id == user_id, _ss.c.service_id == service_id, _ss.c.is_active
                )
            )
        )
    )
