"""Declarative base, naming convention, id and time helpers shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import Index, MetaData, Table, text
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model maps one table (none maps a join or a select), so `Model.__table__` is typed
    # as the Table it is, for insert/update/delete and `.c` without casts.
    __table__: ClassVar[Table]


def partial_index(name: str, column: str, where: str) -> Index:
    """An index of the rows matching `where` only (SQLite and PostgreSQL)."""
    return Index(name, column, sqlite_where=text(where), postgresql_where=text(where))


def new_id() -> str:
    """Opaque 32-hex identifier (SPEC §4: ids are opaque strings)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Naive UTC: every timestamp is stored as UTC without zone, on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)
