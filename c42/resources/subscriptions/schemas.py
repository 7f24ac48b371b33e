"""Request bodies of /api/v2/event-subscriptions/ and /api/v2/calendar-subscriptions/."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import model_validator

from c42.resources.validation import Body, Bool, Id, Text

Invitable = Literal["invited_read", "invited_write"]
AnyPermission = Literal[
    "invited_read", "subscribed_read", "invited_write", "subscribed_write", "removed"
]
RsvpStatus = Literal["not_replied", "attending", "not_attending"]
RSVP_STATUSES = frozenset(get_args(RsvpStatus))  # for the list filter


class Subscriber(Body):
    user_id: Id | None = None
    email: Annotated[str, Text(320)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Subscriber:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give exactly one of user_id and email")
        return self


class EventInvitation(Body):
    event_id: Id
    subscriber: Subscriber
    permission: Invitable = "invited_read"
    is_invitation: Bool = True
    message: Annotated[str, Text(5000)] = ""


class EventSubscriptionChange(Body):
    rsvp_status: RsvpStatus | None = None
    permission: AnyPermission | None = None
    message: Annotated[str, Text(5000)] | None = None


class CalendarShare(Body):
    calendar_id: Id
    subscriber: Subscriber
    permission: Invitable = "invited_read"


class CalendarSubscriptionChange(Body):
    permission: AnyPermission
