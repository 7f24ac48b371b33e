"""Permission values (SPEC §4), stored as small integers ordered by strength.

write > read; subscribed > invited; `removed` (0) reaches nothing. `max()` over a user's
relations therefore yields the best one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement


class Permission(IntEnum):
    REMOVED = 0
    INVITED_READ = 1
    SUBSCRIBED_READ = 2
    INVITED_WRITE = 3
    SUBSCRIBED_WRITE = 4


NAMES: dict[int, str] = {p.value: p.name.lower() for p in Permission}
BY_NAME: dict[str, Permission] = {p.name.lower(): p for p in Permission}
INVITABLE = frozenset({Permission.INVITED_READ, Permission.INVITED_WRITE})
ACCEPTED = {
    Permission.INVITED_READ: Permission.SUBSCRIBED_READ,
    Permission.INVITED_WRITE: Permission.SUBSCRIBED_WRITE,
}


def name(value: int | None) -> str | None:
    return None if value is None else NAMES[value]


def can_read(value: int | None) -> bool:
    return value is not None and value > Permission.REMOVED


def can_write(value: int | None) -> bool:
    return value is not None and value >= Permission.INVITED_WRITE


# The read rule in SQL, for a permission column (or labelled expression) of a query.


def reads(permission: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL of `can_read`: the relation reaches its object (any permission but `removed`)."""
    return permission > int(Permission.REMOVED)
