"""Browser login sessions, kept server-side so that ending one ends it everywhere at once.

The browser holds only the session secret (in the signed session cookie); the table holds its
SHA-256 digest (c42.auth.secrets), never the secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, utcnow


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
