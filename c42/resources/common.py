"""Shared pieces of the resource API: envelopes, bracket arrays, dates, pagination."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Query
from starlette.responses import Response

from c42.errors import InvalidRequest

_ID = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
MAX_ARRAY = 100

Limit = Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Page size; 0 returns the count")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
SyncToken = Annotated[int | None, Query(ge=0, le=2**62, description="Changes after this")]


def envelope(
    data: Sequence[dict[str, Any]], count: int, offset: int, sync_token: int, status: int = 200
) -> Response:
    body = {"data": data, "meta_data": {"count": count, "offset": offset, "sync_token": sync_token}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def one(obj: dict[str, Any], sync_token: int, status: int = 200) -> Response:
    return envelope([obj], 1, 0, sync_token, status)


def bracket_array(value: str | None, name: str, *, ids: bool = True) -> list[str] | None:
    """C42's array form `name=[a,b]`; ids must be 32 hex, other values simple names."""
    if value is None:
        return None
    if len(value) < 2 or value[0] != "[" or value[-1] != "]":
        raise InvalidRequest(f"{name} must look like [a,b].", fields={name: "malformed array"})
    inner = value[1:-1].strip()
    items = [item.strip() for item in inner.split(",")] if inner else []
    pattern = _ID if ids else _NAME
    if len(items) > MAX_ARRAY or any(not pattern.fullmatch(item) for item in items):
        raise InvalidRequest(f"{name} has an invalid item.", fields={name: "invalid item"})
    return items


def check_id(value: str, what: str = "Object") -> str:
    """Path ids that cannot exist are simply not found (never a 500, never a DB error)."""
    from c42.errors import NotFound

    if not _ID.fullmatch(value):
        raise NotFound(f"{what} not found.")
    return value


def fmt_dt(value: datetime | None) -> str | None:
    """SPEC §4: ISO-8601 in UTC as YYYY-MM-DDThh:mm:ss.ffffffZ."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_dt(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name} is not an ISO-8601 date.", fields={name: "invalid"}) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(f"{name} needs a timezone (use Z for UTC).", fields={name: "naive"})
    try:
        utc = parsed.astimezone(UTC)  # 0001-01-01T00:00+05:00 is before year 1 in UTC
    except OverflowError:
        utc = None
    if utc is None or not 1 <= utc.year <= 9998:
        raise InvalidRequest(f"{name} is out of range.", fields={name: "out of range"})
    return utc.replace(tzinfo=None)
