"""Strict input types shared by the request schemas: no coercion, no NUL, bounded sizes."""

from __future__ import annotations

import math
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

_TIMEZONES = frozenset(available_timezones())
MAX_JSON_DEPTH = 8
MAX_JSON_INT = 2**53 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _storable_text(value: str) -> None:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")  # PostgreSQL refuses them
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None


def _json_value(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            _storable_text(key)
            _json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_value(item, depth + 1)
    elif isinstance(value, str):
        _storable_text(value)
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


def Text(max_length: int) -> Any:
    return Annotated[
        str, StringConstraints(strict=True, max_length=max_length), AfterValidator(_no_nul)
    ]


Name = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200), AfterValidator(_no_nul)
]
Url = Text(2000)
Color = Text(32)
DateText = Annotated[str, StringConstraints(strict=True, max_length=64)]
Timezone = Annotated[str, StringConstraints(strict=True, max_length=64), AfterValidator(_timezone)]
Id = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{32}$")]
Bool = StrictBool
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
SmallInt = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class Body(BaseModel):
    """Base of every request body: unknown fields are errors (SPEC §4)."""

    model_config = ConfigDict(extra="forbid", strict=True)
