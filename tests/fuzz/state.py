"""What a refused request must leave unchanged: users, browser sessions, OAuth codes, tokens
and consents, API credentials. One statement; equal before and after means nothing was
written (the resource tables have tests.resources.checks.fingerprint)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, func, select, table

from c42.db import Database


def _count(name: str, *where: Any) -> Any:
    return select(func.count()).select_from(table(name)).where(*where).scalar_subquery()


def _newest(name: str, field: str) -> Any:
    return select(func.max(column(field))).select_from(table(name)).scalar_subquery()


def _set(name: str) -> Any:
    return column(name).is_not(None)


_STATE = select(
    _count("users"),
    _count("users", column("is_active").is_(True)),
    _newest("users", "modified"),
    _count("browser_sessions"),
    _count("browser_sessions", _set("revoked_at")),
    _count("oauth_authorization_codes"),
    _count("oauth_authorization_codes", _set("used_at")),
    _count("oauth_tokens"),
    _count("oauth_tokens", _set("access_revoked_at")),
    _count("oauth_tokens", _set("refresh_revoked_at")),
    _count("oauth_tokens", _set("rotated_at")),
    _count("oauth_consents"),
    _newest("oauth_consents", "modified"),
    _count("user_tokens"),
    _count("action_tokens"),
)


def auth_state(db: Database) -> tuple[str, ...]:
    with db.engine.connect() as connection:
        row = connection.execute(_STATE).one()
    return tuple(str(value) for value in row)
