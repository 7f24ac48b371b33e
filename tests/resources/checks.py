"""Shared assertions for the resource API tests: the error envelope and "nothing was written"."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import column, func, select, table, union_all

from c42 import sync
from c42.db import Database

TABLES = (
    "users",
    "user_tokens",
    "services",
    "calendars",
    "calendar_subscriptions",
    "events",
    "event_calendars",
    "event_subscriptions",
    "readable_events",
)
# Every change that a resource endpoint makes either advances the sync counter or touches
# `modified`; rows that appear without either (users, tokens) are caught by the counts.
_MODIFIED = ("calendars", "calendar_subscriptions", "events", "event_subscriptions")


def assert_error(
    response: httpx.Response, status: int | None = None, code: str | None = None
) -> dict[str, Any]:
    """A 4xx in the C42 error envelope: {"error": {"status_code", "code", "message"}}."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"status_code", "code", "message"} <= set(error), error
    assert error["status_code"] == response.status_code, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def fingerprint(db: Database) -> tuple[Any, ...]:
    """Row counts, the global sync token and the newest modifications: equal before and after
    a refused request means the request wrote nothing. One statement, one round trip."""
    with db.engine.connect() as connection:
        row = connection.execute(_FINGERPRINT).one()
    return tuple(str(value) for value in row)


_FINGERPRINT = select(
    *[select(func.count()).select_from(table(t)).scalar_subquery() for t in TABLES],
    select(column("value")).select_from(table("sync_counter")).scalar_subquery(),
    *[
        select(func.max(column("modified"))).select_from(table(t)).scalar_subquery()
        for t in _MODIFIED
    ],
)


def latest_change_token(db: Database) -> int:
    """The highest sync token any planning row carries (0 when none)."""
    with db.engine.connect() as connection:
        return int(connection.execute(_LATEST_CHANGE).scalar_one())


_TOKENS = union_all(
    *[select(func.max(column("sync_token")).label("t")).select_from(table(t)) for t in _MODIFIED]
).subquery()
_LATEST_CHANGE = select(func.coalesce(func.max(_TOKENS.c.t), 0))


def current_sync_token(db: Database) -> int:
    """What a read reports now (c42.sync: the watermark)."""
    with db.engine.connect() as connection:
        return sync.current(connection)
