"""Query-string parsing for list endpoints, without per-request model validation.

FastAPI's per-parameter validation costs more than the whole database work of a page, so
the hot list endpoints read `request.query_params` through these small functions and
document their parameters with `openapi_params()`. Errors are the usual 400 envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from c42.errors import InvalidRequest
from c42.resources.common import DEFAULT_LIMIT, MAX_LIMIT

MAX_OFFSET = 10_000_000
MAX_SYNC_TOKEN = 2**62
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int
    sync_token: int | None


def integer(params: Mapping[str, str], name: str, default: int | None, high: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InvalidRequest(f"{name} must be a whole number.", fields={name: "not a number"})
    value = int(raw)
    if value > high:
        raise InvalidRequest(f"{name} must be at most {high}.", fields={name: "too large"})
    return value


def page(params: Mapping[str, str]) -> Page:
    limit = integer(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = integer(params, "offset", 0, MAX_OFFSET)
    sync_token = integer(params, "sync_token", None, MAX_SYNC_TOKEN)
    return Page(limit or 0, offset or 0, sync_token)


def choice(params: Mapping[str, str], name: str, allowed: frozenset[str], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        options = ", ".join(sorted(allowed))
        raise InvalidRequest(f"{name} must be one of {options}.", fields={name: "invalid"})
    return value


def boolean(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise InvalidRequest(f"{name} must be true or false.", fields={name: "invalid"})


def openapi_params(**extra: str) -> dict[str, Any]:
    """OpenAPI parameter docs: the paging trio plus `name=description` bracket-array filters."""
    base = [
        ("limit", "integer", f"Page size, default {DEFAULT_LIMIT}, max {MAX_LIMIT}; 0: count"),
        ("offset", "integer", "Skip this many objects"),
        ("sync_token", "integer", "Only what changed after this sync token"),
    ]
    params = [
        {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
        for n, t, d in base
    ]
    params += [
        {
            "name": n,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": d,
        }
        for n, d in extra.items()
    ]
    return {"parameters": params}


def sync_order(table: Any, sync_token: int | None) -> tuple[Any, Any]:
    """Lists read oldest change first; syncs newest first, so that a change made while a
    client pages through a sync moves to the front and cannot be skipped (the client then
    continues from the first page's `meta_data.sync_token`)."""
    if sync_token is None:
        return table.c.sync_token.asc(), table.c.id.asc()
    return table.c.sync_token.desc(), table.c.id.desc()
