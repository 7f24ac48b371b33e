"""User Tokens, Action Tokens and the security event log. Only digests are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
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


class SecurityEvent(Base):
    """Append-only log of security-relevant happenings (refresh reuse, merges, revocations)."""

    __tablename__ = "security_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    app_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
