"""Users, services and service subscriptions; and the one rule of an account's standing."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    FromClause,
    Index,
    String,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, utcnow


class Standing(Enum):
    """Where an account stands. Only MAY_ACT acts as itself (logs in, holds User and Action
    Tokens); a SANDBOX user acts only through OAuth tokens of its own service (SPEC §5.4)."""

    MAY_ACT = "may_act"  # active, not closed, not a sandbox user
    CLOSED = "closed"  # a sandbox merged away (SPEC §5.4)
    INACTIVE = "inactive"  # deactivated, or not yet verified
    SANDBOX = "sandbox"  # a silent-OAuth sandbox user (SPEC §5.4)


OPEN = frozenset({Standing.MAY_ACT, Standing.SANDBOX})  # accounts whose OAuth tokens work


def standing(is_active: bool, sandbox_service_id: str | None, closed_at: object) -> Standing:
    """The rule, for a User or for a row that selected these three columns."""
    if closed_at is not None:
        return Standing.CLOSED
    if not is_active:
        return Standing.INACTIVE
    return Standing.SANDBOX if sandbox_service_id is not None else Standing.MAY_ACT


def may_act(users: FromClause) -> ColumnElement[bool]:
    """The same rule in SQL, for the users table or an alias of it: Standing.MAY_ACT."""
    return and_(users.c.is_active.is_(True), is_real(users))


def is_real(users: FromClause) -> ColumnElement[bool]:
    """SQL of `User.is_real`: not a sandbox user (nor a merged one)."""
    return and_(users.c.sandbox_service_id.is_(None), users.c.closed_at.is_(None))


def is_open(users: FromClause) -> ColumnElement[bool]:
    """SQL: the standing is in OPEN (active, not closed; a sandbox user or not)."""
    return and_(users.c.is_active.is_(True), users.c.closed_at.is_(None))


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

    @property
    def standing(self) -> Standing:
        return standing(self.is_active, self.sandbox_service_id, self.closed_at)

    @property
    def may_act(self) -> bool:
        """An account that may act (SPEC §9): in SQL, `may_act(User.__table__)`."""
        return self.standing is Standing.MAY_ACT

    @property
    def is_real(self) -> bool:
        """Not a sandbox user (nor a merged one): the one account of its address."""
        return self.sandbox_service_id is None and self.closed_at is None

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
