"""Calendar visibility: a user sees a calendar through their calendar subscription (SPEC §4)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from c42.auth.subject import AuthSubject
from c42.models import Calendar, CalendarSubscription

calendars = Calendar.__table__
calendar_subscriptions = CalendarSubscription.__table__


def subscription_join(user_id: str) -> ColumnElement[bool]:
    return (calendar_subscriptions.c.calendar_id == calendars.c.id) & (
        calendar_subscriptions.c.user_id == user_id
    )


def scope_filter(subject: AuthSubject) -> list[ColumnElement[bool]]:
    if subject.service_id is not None:
        return [calendars.c.service_id == subject.service_id]
    return []
