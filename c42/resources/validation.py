"""Strict input types shared by the request schemas: no coercion, no NUL, bounded sizes."""

from __future__ import annotations

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


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
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
SmallInt = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class Body(BaseModel):
    """Base of every request body: unknown fields are errors (SPEC §4)."""

    model_config = ConfigDict(extra="forbid", strict=True)
