"""Request bodies of /api/v2/calendars/."""

from __future__ import annotations

from typing import Literal

from c42.resources.validation import Body, Color, Name, Text, Url

CalendarType = Literal["private", "webdav", "ics", "google"]


class CalendarFields(Body):
    name: Name | None = None
    description: Text(20_000) | None = None  # type: ignore[valid-type]
    category: Text(100) | None = None  # type: ignore[valid-type]
    color: Color | None = None  # type: ignore[valid-type]
    icon: Url | None = None  # type: ignore[valid-type]
    logo: Url | None = None  # type: ignore[valid-type]
    calendar_type: CalendarType | None = None
