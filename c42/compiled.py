"""Compiled statements for the hot paths, executed on the DB-API connection.

Building and compiling a SQLAlchemy statement costs far more than running it on SQLite
(measured: ~3 ms per events page through the ORM session, ~0.1 ms this way). So hot queries
are built once per *shape* (which filters are present, how many ids) from the same Core
expressions the rest of the code uses, compiled once per dialect, cached, and then only
executed with fresh parameters. Rows come back as plain tuples in the statement's column order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable, Select

from c42.unit_of_work import UnitOfWork

_MAX_SHAPES = 512


class CompiledSelect:
    __slots__ = ("defaults", "names", "positional", "sql")

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = dict(compiled.params)
        self.positional = compiled.positional
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())

    def execute(self, dbapi_connection: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = {**self.defaults, **params}
        cursor = dbapi_connection.cursor()
        try:
            if self.positional:
                cursor.execute(self.sql, tuple(values[name] for name in self.names))
            else:
                cursor.execute(self.sql, values)
            return list(cursor.fetchall())
        finally:
            cursor.close()


class StatementCache:
    """Shape key -> compiled statement, built by `build(shape)` on first use (bounded LRU)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: OrderedDict[Hashable, CompiledSelect] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Select[Any]]) -> CompiledSelect:
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = CompiledSelect(build(), self.engine)
            self._cache[key] = compiled
            if len(self._cache) > _MAX_SHAPES:
                self._cache.popitem(last=False)
        return compiled


class CompiledStatement:
    """Any Core statement (SELECT, INSERT, UPDATE) compiled once for one dialect, executed on
    the DB-API connection of a unit of work, with SQLAlchemy's own type processors applied to
    parameters and to selected columns (dates as SQLite stores them, booleans, JSON)."""

    __slots__ = ("binders", "defaults", "names", "positional", "readers", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positional = compiled.positional
        self.names: tuple[str, ...] = tuple(compiled.positiontup or compiled.binds)
        self.defaults: dict[str, Any] = dict(compiled.params)
        self.binders: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binders[name] = process
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        self.readers: tuple[Callable[[Any], Any] | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )

    def _parameters(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params}
        for name, process in self.binders.items():
            if values.get(name) is not None:
                values[name] = process(values[name])
        if self.positional:
            return tuple(values[name] for name in self.names)
        return values

    def rows(self, dbapi_connection: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not any(self.readers):
            return list(rows)
        pairs = (zip(self.readers, row, strict=True) for row in rows)
        return [tuple(v if read is None else read(v) for read, v in pair) for pair in pairs]

    def rowcount(self, dbapi_connection: Any, params: Mapping[str, Any]) -> int:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(params))
            return int(cursor.rowcount)
        finally:
            cursor.close()


_compiled: dict[tuple[str, Hashable], CompiledStatement] = {}


def statement(work: Any, key: Hashable, build: Callable[[], Executable]) -> CompiledStatement:
    """The statement `key` for the dialect of `work` (a Session or a UnitOfWork), built and
    compiled on first use. `key` names one fixed statement: this cache does not evict."""
    dialect = work.connection.dialect if isinstance(work, UnitOfWork) else work.get_bind().dialect
    compiled = _compiled.get((dialect.name, key))
    if compiled is None:
        compiled = _compiled[(dialect.name, key)] = CompiledStatement(build(), dialect)
    return compiled


def connection_of(work: Any) -> Any:
    """The DB-API connection of a unit of work's transaction, or of a Session's (begun if it
    was not yet: BEGIN IMMEDIATE for a write session on SQLite), so that compiled statements
    share the caller's transaction."""
    if isinstance(work, UnitOfWork):
        return work.dbapi
    return work.connection().connection.dbapi_connection
