"""Request bodies of /api/v2/events/ and the field rules per event type (SPEC §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from c42.errors import InvalidRequest
from c42.resources.common import parse_dt
from c42.resources.validation import (
    Body,
    Bool,
    Color,
    DateText,
    Id,
    JsonObject,
    SmallInt,
    Text,
    Timezone,
    Url,
)

EventType = Literal["normal", "todo", "time_block", "arrive_by", "depart_from", "route"]
TIMED_TYPES = frozenset({"normal", "time_block"})  # need start, end and both timezones


class EventFields(Body):
    """Every writable field; PUT and POST require `event_type`, PATCH requires nothing."""

    event_type: EventType | None = None
    title: Annotated[str, Text(500)] | None = None
    description: Annotated[str, Text(20_000)] | None = None
    start: DateText | None = None
    end: DateText | None = None
    start_timezone: Timezone | None = None
    end_timezone: Timezone | None = None
    all_day: Bool | None = None
    due: DateText | None = None
    color: Color | None = None
    icon: Url | None = None
    logo: Url | None = None
    source_url: Url | None = None
    is_suggestion: Bool | None = None
    start_location: JsonObject | None = None
    end_location: JsonObject | None = None
    related_event: Id | None = None
    time_buffer: SmallInt | None = None
    calendar_ids: list[Id] | None = Field(default=None, max_length=100)


DATE_FIELDS = ("start", "end", "due")
COLUMN_OF = {"related_event": "related_event_id"}
DEFAULTS: dict[str, Any] = {
    "title": "",
    "description": "",
    "start": None,
    "end": None,
    "start_timezone": None,
    "end_timezone": None,
    "all_day": False,
    "due": None,
    "color": "",
    "icon": "",
    "logo": "",
    "source_url": "",
    "is_suggestion": False,
    "start_location": None,
    "end_location": None,
    "related_event_id": None,
    "time_buffer": 0,
}


def to_columns(fields: EventFields) -> dict[str, Any]:
    """The fields that were sent, as column values (dates parsed to naive UTC)."""
    values: dict[str, Any] = {}
    for name in fields.model_fields_set - {"calendar_ids"}:
        value = getattr(fields, name)
        if name in DATE_FIELDS and value is not None:
            value = parse_dt(value, name)
        if value is None and name in (
            "title",
            "description",
            "color",
            "icon",
            "logo",
            "source_url",
        ):
            value = ""
        if value is None and name in ("all_day", "is_suggestion"):
            value = False
        if value is None and name == "time_buffer":
            value = 0
        if value is None and name == "event_type":
            raise InvalidRequest("event_type cannot be null.", fields={"event_type": "required"})
        values[COLUMN_OF.get(name, name)] = value
    return values


def check_type_rules(values: dict[str, Any]) -> None:
    """Validate the complete event (after merging a PATCH) against its type's rules."""
    event_type = values.get("event_type")
    if event_type is None:
        raise InvalidRequest("event_type is required.", fields={"event_type": "required"})
    start: datetime | None = values.get("start")
    end: datetime | None = values.get("end")
    problems: dict[str, str] = {}
    if event_type in TIMED_TYPES:
        for name in ("start", "end", "start_timezone", "end_timezone"):
            if values.get(name) is None:
                problems[name] = f"required for {event_type} events"
    elif event_type == "todo":
        for name in ("start", "end"):
            if values.get(name) is not None:
                problems[name] = "todo events have no start or end"
    else:
        if start is not None and values.get("start_timezone") is None:
            problems["start_timezone"] = "required with start"
        if end is not None and values.get("end_timezone") is None:
            problems["end_timezone"] = "required with end"
    if start is not None and end is not None and start > end:
        problems["end"] = "must not be before start"
    if problems:
        raise InvalidRequest(
            "The event is invalid: " + ", ".join(sorted(problems)), fields=problems
        )
