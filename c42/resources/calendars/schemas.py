"""Request bodies of /api/v2/calendars/."""

from __future__ import annotations

from typing import Annotated, Literal

from c42.resources.validation import Body, Color, Name, Text, Url

CalendarType = Literal["private", "webdav", "ics", "google"]


class CalendarFields(Body):
    name: Name | None = None
    description: Annotated[str, Text(20_000)] | None = None
    category: Annotated[str, Text(100)] | None = None
    color: Color | None = None
    icon: Url | None = None
    logo: Url | None = None
    calendar_type: CalendarType | None = None
