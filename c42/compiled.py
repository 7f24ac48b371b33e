"""Compiled read statements for the hot path, executed on the DB-API connection.

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
from sqlalchemy.sql import Select

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
