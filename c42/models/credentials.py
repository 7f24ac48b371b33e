"""User Tokens, Action Tokens and the audit log. Only digests are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, partial_index, utcnow

# An Action Token with no use left (the predicate of a partial index below).
USED_UP = "max_uses IS NOT NULL AND use_count >= max_uses"


class UserToken(Base):
    __tablename__ = "user_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the secret
    name: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (  # c42 purge (c42.ops.purge)
        partial_index("ix_user_tokens_expires_at", "expires_at", "expires_at IS NOT NULL"),
        partial_index("ix_user_tokens_revoked_at", "revoked_at", "revoked_at IS NOT NULL"),
    )


class ActionToken(Base):
    __tablename__ = "action_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    grants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("services.id"))  # restriction
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (  # c42 purge (c42.ops.purge)
        partial_index("ix_action_tokens_expires_at", "expires_at", "expires_at IS NOT NULL"),
        partial_index("ix_action_tokens_revoked_at", "revoked_at", "revoked_at IS NOT NULL"),
        partial_index("ix_action_tokens_used_up", "last_used", USED_UP),
    )


class AuditEvent(Base):
    """The audit log (SPEC §8): one row per security-relevant happening, written in the
    transaction of the change it records (c42.audit). Ids only: never a secret."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    time: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(32))  # who did it (staff for admin)
    user_id: Mapped[str | None] = mapped_column(String(32))  # whose account it concerns
    client_id: Mapped[str | None] = mapped_column(String(64))  # the OAuth app's client_id
    service_id: Mapped[str | None] = mapped_column(String(32))
    credential_id: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_events_user_id_time", "user_id", "time"),
        Index("ix_audit_events_type_time", "type", "time"),
        Index("ix_audit_events_client_id_time", "client_id", "time"),
    )
