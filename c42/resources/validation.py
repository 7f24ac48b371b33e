"""Strict input types shared by the request schemas: no coercion, only accepted text
(`c42.text`: no control characters but TAB/LF/CR, no lone surrogates), bounded sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from c42.text import is_accepted
from c42.validation import MAX_NAME_LENGTH

_TIMEZONES = frozenset(available_timezones())
MAX_JSON_DEPTH = 8
MAX_JSON_INT = 2**53 - 1


_NOT_ACCEPTED = "must be valid Unicode without control characters (TAB, LF and CR aside)"


def _accepted(value: str) -> str:
    """SPEC §6: JSON strings are free text (c42.text); NUL, which PostgreSQL refuses, with the
    other control characters and lone surrogates, which no encoder takes, are a 400."""
    if not is_accepted(value, multiline=True):
        raise ValueError(_NOT_ACCEPTED)
    return value


def _json_value(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            _accepted(key)
            _json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_value(item, depth + 1)
    elif isinstance(value, str):
        _accepted(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise ValueError("integers must be within +-(2**53 - 1)")  # RFC 8259 §6
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")  # RFC 8259 §6: no NaN or Infinity
    else:  # pragma: no cover - json.loads makes nothing else
        raise ValueError("must be JSON")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form JSON object that every database stores and every client reads back."""
    _json_value(value, 1)
    return value


def _timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError("must be an Olson timezone name such as Europe/Amsterdam")
    return value


@dataclass(frozen=True, slots=True)
class Text:
    """Accepted text (c42.text) of at most `max_length` characters, as the metadata of a type
    that type checkers read: `Annotated[str, Text(500)]`."""

    max_length: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        constraints = StringConstraints(strict=True, max_length=self.max_length)
        return handler.generate_schema(Annotated[str, constraints, AfterValidator(_accepted)])


Name = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_accepted),
]
Url = Annotated[str, Text(2000)]
Color = Annotated[str, Text(32)]
DateText = Annotated[str, StringConstraints(strict=True, max_length=64)]
Timezone = Annotated[str, StringConstraints(strict=True, max_length=64), AfterValidator(_timezone)]
Id = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{32}$")]
Bool = StrictBool
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
SmallInt = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class Body(BaseModel):
    """Base of every request body: unknown fields are errors (SPEC §4)."""

    model_config = ConfigDict(extra="forbid", strict=True)
