"""The two kinds of subscription, as values the shared layers are parametrised by."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table

from c42.access.subscriptions import CALENDARS, EVENTS, Target


@dataclass(frozen=True, slots=True)
class Kind:
    target: Target  # what is subscribed to, and its access rules
    what: str  # "Calendar subscription", as in error messages
    taken: str  # the 409 message when the user is already subscribed
    fields: tuple[str, ...]  # columns shown besides those every subscription has

    @property
    def table(self) -> Table:
        return self.target.subscriptions

    @property
    def target_id(self) -> ColumnElement[str]:
        """The subscriptions' column naming the calendar or event."""
        return self.target.subscriptions.c[self.target.key]


CALENDAR = Kind(
    target=CALENDARS,
    what="Calendar subscription",
    taken="The calendar is already shared with this user.",
    fields=(),
)
EVENT = Kind(
    target=EVENTS,
    what="Event subscription",
    taken="This user is already subscribed to the event.",
    fields=("rsvp_status", "is_invitation", "message"),
)
