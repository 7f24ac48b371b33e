"""Compiled statements for the hot paths, executed on the DB-API connection.

Building and compiling a SQLAlchemy statement costs far more than running it (measured: ~3 ms
per events page through the ORM session, ~0.1 ms this way). So a hot statement is built once
per key (a fixed statement, or one *shape* of a query: which filters are present, how many
ids) from the same Core expressions the rest of the code uses, compiled once per dialect,
cached, and then only executed with fresh parameters.

Statements run on a `Runner`: a transaction's DB-API connection and its dialect. A unit of
work is one (`c42.unit_of_work`, also around an ORM session), and so is a read of
`Database.hot_read`; repositories take a runner and never know which.
Rows come back as tuples, as dicts, or as records built by column name (`records`).

A read that must run both ways, blocking on a unit of work and awaited on the event loop
(PostgreSQL's hot reads, `c42.pg_reads`), is written once as a *program*: a generator that
yields a `Step` (which statement, which parameters) and receives its `Fetched` rows; `run`
and `run_async` execute it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

_MAX_STATEMENTS = 1024
R = TypeVar("R", bound=NamedTuple)
T = TypeVar("T")


class Runner(Protocol):
    """Where compiled statements run: one transaction's DB-API connection, and its dialect."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def dbapi(self) -> Any: ...


class CompiledStatement:
    """A Core statement (SELECT, INSERT, UPDATE) compiled once for one dialect. Parameters go
    through SQLAlchemy's own bind processors; selected columns through its result processors
    (dates as SQLite stores them, booleans, JSON) unless built with `decode=False` (the
    statement formats its columns itself, e.g. timestamps rendered in the wire format)."""

    __slots__ = (
        "_shapes",
        "binders",
        "columns",
        "defaults",
        "names",
        "positional",
        "readers",
        "sql",
    )

    def __init__(self, statement: ClauseElement, dialect: Dialect, decode: bool = True) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)  # a statement, not DDL: it has binds
        self.sql: str = compiled.string
        self.positional = compiled.positional
        self.names: tuple[str, ...] = tuple(compiled.positiontup or compiled.binds)
        self.defaults: dict[str, Any] = dict(compiled.params)
        self.binders: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binders[name] = process
        selected = statement.selected_columns if isinstance(statement, Select) else None
        self.columns: tuple[str, ...] = tuple(selected.keys()) if selected is not None else ()
        readers = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in (selected if selected is not None and decode else ())
        ]
        self.readers: tuple[Callable[[Any], Any] | None, ...] | None = (
            tuple(readers) if any(readers) else None
        )
        self._shapes: dict[type, tuple[int, ...] | None] = {}

    def _parameters(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params} if self.defaults else dict(params)
        for name, process in self.binders.items():
            if values.get(name) is not None:
                values[name] = process(values[name])
        if self.positional:
            return tuple(values[name] for name in self.names)
        return values

    def rows(self, runner: Runner, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = runner.dbapi.cursor()
        try:
            cursor.execute(self.sql, self._parameters(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return self._decoded(rows)

    async def rows_async(self, runner: Runner, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """`rows` on an asynchronous DB-API connection (psycopg's AsyncConnection)."""
        cursor = runner.dbapi.cursor()
        try:
            await cursor.execute(self.sql, self._parameters(params))
            rows = await cursor.fetchall()
        finally:
            await cursor.close()
        return self._decoded(rows)

    def _decoded(self, rows: Any) -> list[tuple[Any, ...]]:
        if self.readers is None:
            return rows if isinstance(rows, list) else list(rows)
        pairs = (zip(self.readers, row, strict=True) for row in rows)
        return [tuple(v if read is None else read(v) for read, v in pair) for pair in pairs]

    def mappings(self, runner: Runner, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows as dicts keyed by the selected columns' names."""
        columns = self.columns
        return [dict(zip(columns, row, strict=True)) for row in self.rows(runner, params)]

    def records(self, runner: Runner, params: Mapping[str, Any], shape: type[R]) -> list[R]:
        """Rows as `shape` records, each field taken from the selected column of its name."""
        order = self._order(shape)
        rows = self.rows(runner, params)
        if order is None:  # the columns are the fields, in order
            return [shape._make(row) for row in rows]
        return [shape._make([row[i] for i in order]) for row in rows]

    def _order(self, shape: type[Any]) -> tuple[int, ...] | None:
        if shape not in self._shapes:
            fields: tuple[str, ...] = shape._fields
            missing = set(fields) - set(self.columns)
            if missing:
                raise TypeError(f"{shape.__name__}: the statement selects no {sorted(missing)}")
            order = tuple(self.columns.index(name) for name in fields)
            self._shapes[shape] = None if order == tuple(range(len(self.columns))) else order
        return self._shapes[shape]

    def rowcount(self, runner: Runner, params: Mapping[str, Any]) -> int:
        cursor = runner.dbapi.cursor()
        try:
            cursor.execute(self.sql, self._parameters(params))
            return int(cursor.rowcount)
        finally:
            cursor.close()


_compiled: OrderedDict[tuple[str, Hashable], CompiledStatement] = OrderedDict()


def statement(
    runner: Runner, key: Hashable, build: Callable[[], ClauseElement], *, decode: bool = True
) -> CompiledStatement:
    """The statement `key` (built by `build`, the same statement for the same key) compiled
    for the runner's dialect, on first use; a bounded cache (shapes of queries are many)."""
    dialect = runner.dialect
    cache_key = (dialect.name, key)
    compiled = _compiled.get(cache_key)
    if compiled is None:
        compiled = _compiled[cache_key] = CompiledStatement(build(), dialect, decode)
        if len(_compiled) > _MAX_STATEMENTS:
            _compiled.popitem(last=False)
    return compiled


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a program: `statement(runner, key, build, decode=...)` with `params`."""

    key: Hashable
    build: Callable[[], ClauseElement]
    params: Mapping[str, Any]
    decode: bool = True


class Fetched(NamedTuple):
    """What a step returned: its rows, and the names of their columns."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def mappings(self) -> list[dict[str, Any]]:
        columns = self.columns
        return [dict(zip(columns, row, strict=True)) for row in self.rows]


Program = Generator[Step, Fetched, T]


def run(runner: Runner, program: Program[T]) -> T:
    """Execute a program's steps on a blocking runner; its return value."""
    try:
        step = next(program)
        while True:
            compiled = statement(runner, step.key, step.build, decode=step.decode)
            step = program.send(Fetched(compiled.columns, compiled.rows(runner, step.params)))
    except StopIteration as done:
        result: T = done.value
        return result


async def run_async(runner: Runner, program: Program[T]) -> T:
    """Execute a program's steps on an asynchronous runner; its return value."""
    try:
        step = next(program)
        while True:
            compiled = statement(runner, step.key, step.build, decode=step.decode)
            rows = await compiled.rows_async(runner, step.params)
            step = program.send(Fetched(compiled.columns, rows))
    except StopIteration as done:
        result: T = done.value
        return result
