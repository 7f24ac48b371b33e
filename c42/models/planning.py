"""Calendars, events and the subscriptions that relate users to them.

Permissions are stored as small integers ordered so that `max()` picks the strongest one
(SPEC §4: write > read; subscribed > invited). `c42.access.permissions` names them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, utcnow


class Calendar(Base):
    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    color: Mapped[str] = mapped_column(String(32), default="")
    icon: Mapped[str] = mapped_column(String(2000), default="")
    logo: Mapped[str] = mapped_column(String(2000), default="")
    calendar_type: Mapped[str] = mapped_column(String(16), default="private")
    service_id: Mapped[str | None] = mapped_column(ForeignKey("services.id"), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sync_token: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class CalendarSubscription(Base):
    __tablename__ = "calendar_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permission: Mapped[int] = mapped_column(SmallInteger)
    previous_permission: Mapped[int | None] = mapped_column(SmallInteger)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sync_token: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("calendar_id", "user_id"),
        Index("ix_calendar_subscriptions_user_calendar", "user_id", "calendar_id", "permission"),
    )


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[datetime | None] = mapped_column(DateTime)
    end: Mapped[datetime | None] = mapped_column(DateTime)
    start_timezone: Mapped[str | None] = mapped_column(String(64))
    end_timezone: Mapped[str | None] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    due: Mapped[datetime | None] = mapped_column(DateTime)
    color: Mapped[str] = mapped_column(String(32), default="")
    icon: Mapped[str] = mapped_column(String(2000), default="")
    logo: Mapped[str] = mapped_column(String(2000), default="")
    source_url: Mapped[str] = mapped_column(String(2000), default="")
    is_suggestion: Mapped[bool] = mapped_column(Boolean, default=False)
    start_location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    end_location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    related_event_id: Mapped[str | None] = mapped_column(String(32))
    time_buffer: Mapped[int] = mapped_column(Integer, default=0)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("services.id"), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sync_token: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class EventCalendar(Base):
    """Membership of an event in a calendar."""

    __tablename__ = "event_calendars"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    calendar_id: Mapped[str] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_event_calendars_calendar_event", "calendar_id", "event_id"),)


class EventSubscription(Base):
    __tablename__ = "event_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permission: Mapped[int] = mapped_column(SmallInteger)
    previous_permission: Mapped[int | None] = mapped_column(SmallInteger)
    rsvp_status: Mapped[str] = mapped_column(String(16), default="not_replied")
    is_invitation: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sync_token: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_event_subscriptions_user_event", "user_id", "event_id", "permission"),
    )


class SyncCounter(Base):
    """The global sync token's one row (id = 1). SQLite: the last token handed out.
    PostgreSQL: the offset added to a transaction id to make its token (see `c42.sync`)."""

    __tablename__ = "sync_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ReadableEvent(Base):
    """Who may read which event right now: the relationship rule of `c42.access.events`,
    kept as rows (one per user and readable, not deleted event) with the event's sort keys.

    The events list reads its page from here with one index range per user instead of
    evaluating the rule over every event the user relates to. It is derived data: every
    change of a relationship or of an event refreshes the affected rows in the same
    transaction (`c42.access.readable`), and the tests check it against the rule.
    """

    __tablename__ = "readable_events"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[int] = mapped_column(SmallInteger)
    service_id: Mapped[str | None] = mapped_column(String(32))
    sync_token: Mapped[int] = mapped_column(BigInteger)
    due: Mapped[datetime | None] = mapped_column(DateTime)
    start: Mapped[datetime | None] = mapped_column(DateTime)
    # The event's calendars this user can see, comma-joined in id order (the list's
    # requester-relative `calendar_ids`, `c42.access.events.visible_calendar_ids`).
    calendar_ids: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_readable_events_user_sync", "user_id", "sync_token", "event_id"),
        Index("ix_readable_events_user_service", "user_id", "service_id", "sync_token", "event_id"),
        Index("ix_readable_events_event", "event_id"),
        {"sqlite_with_rowid": False},
    )
