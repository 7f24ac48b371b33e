"""Users, services and service subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))  # normalised form, see c42.emails
    password_hash: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set for sandbox users of silent OAuth (SPEC §5.4): the one service they live in.
    sandbox_service_id: Mapped[str | None] = mapped_column(ForeignKey("services.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)  # sandbox merged away
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # One real account per address; one open sandbox per (address, service).
        Index(
            "uq_users_email_real",
            "email",
            unique=True,
            sqlite_where=text("sandbox_service_id IS NULL"),
            postgresql_where=text("sandbox_service_id IS NULL"),
        ),
        Index(
            "uq_users_email_sandbox",
            "email",
            "sandbox_service_id",
            unique=True,
            sqlite_where=text("sandbox_service_id IS NOT NULL AND closed_at IS NULL"),
            postgresql_where=text("sandbox_service_id IS NOT NULL AND closed_at IS NULL"),
        ),
    )


class Service(Base):
    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    logo: Mapped[str] = mapped_column(String(2000), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ServiceSubscription(Base):
    __tablename__ = "service_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("service_id", "user_id"),)
