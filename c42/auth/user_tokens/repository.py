"""Storage of User Tokens: create, look up by digest, list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import secrets
from c42.models import User, UserToken, utcnow

_t = UserToken.__table__
_u = User.__table__

_LOOKUP = (
    select(
        _t.c.id,
        _t.c.user_id,
        _t.c.expires_at,
        _t.c.revoked_at,
        _t.c.last_used,
        _u.c.is_active,
        _u.c.is_staff,
        _u.c.sandbox_service_id,
        _u.c.closed_at,
    )
    .join(_u, _u.c.id == _t.c.user_id)
    .where(_t.c.digest == bindparam("digest"))
)


@dataclass(frozen=True, slots=True)
class CreatedToken:
    id: str
    token: str  # the secret, shown once
    name: str
    created: datetime
    expires_at: datetime | None


def lookup(connection: Connection, token_digest: str) -> Any:
    return connection.execute(_LOOKUP, {"digest": token_digest}).first()


def create(
    session: Session, user_id: str, name: str = "", expires_in: int | None = None
) -> CreatedToken:
    secret = secrets.new_server_token()
    now = utcnow()
    row = UserToken(
        user_id=user_id,
        digest=secrets.digest(secret),
        name=name,
        created=now,
        expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
    )
    session.add(row)
    session.flush()
    _record(session, audit.Types.CREDENTIAL_ISSUED, row)
    return CreatedToken(row.id, secret, row.name, row.created, row.expires_at)


def list_for_user(session: Session, user_id: str) -> list[UserToken]:
    return list(
        session.scalars(
            select(UserToken)
            .where(UserToken.user_id == user_id, UserToken.revoked_at.is_(None))
            .order_by(UserToken.created.desc())
        )
    )


def revoke(session: Session, user_id: str, token_id: str) -> str | None:
    """Revoke one of the user's live tokens; returns its digest (to evict from caches)."""
    row = session.scalar(
        select(UserToken).where(
            UserToken.id == token_id,
            UserToken.user_id == user_id,
            UserToken.revoked_at.is_(None),
        )
    )
    if row is None:
        return None
    row.revoked_at = utcnow()
    session.flush()
    _record(session, audit.Types.CREDENTIAL_REVOKED, row)
    return row.digest


def _record(session: Session, type: str, row: UserToken) -> None:
    """The audit record of a user's own change to one of their User Tokens (SPEC §8)."""
    audit.record(
        session,
        type,
        user_id=row.user_id,
        actor_id=row.user_id,
        credential_id=row.id,
        kind="user_token",
    )
