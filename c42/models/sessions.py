"""Browser login sessions, kept server-side so that ending one ends it everywhere at once.

The browser holds only the session secret (in the signed session cookie); the table holds its
SHA-256 digest (c42.auth.secrets), never the secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, partial_index, utcnow


class BrowserSession(Base):
    __tablename__ = "browser_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_digest: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # to the minute
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # absolute: created + MAX_AGE
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    auth_time: Mapped[datetime] = mapped_column(DateTime)  # when the password was checked
    user_agent: Mapped[str] = mapped_column(String(200), default="")  # truncated
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (  # c42 purge (c42.ops.purge): idle, past the absolute end, ended
        Index("ix_browser_sessions_last_seen", "last_seen"),
        Index("ix_browser_sessions_expires_at", "expires_at"),
        partial_index("ix_browser_sessions_revoked_at", "revoked_at", "revoked_at IS NOT NULL"),
    )
