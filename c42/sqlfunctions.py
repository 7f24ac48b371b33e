"""SQL expressions compiled differently per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class wire_time(FunctionElement[str]):
    """A naive-UTC timestamp column rendered by the database as SPEC §4's wire format,
    `YYYY-MM-DDThh:mm:ss.ffffffZ`, so the hot path does no per-value Python work."""

    type = String()
    inherit_cache = True
    name = "wire_time"


@compiles(wire_time, "sqlite")
def _sqlite(element: wire_time, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    column = compiler.process(element.clauses, **kw)
    return f"(replace({column}, ' ', 'T') || 'Z')"


@compiles(wire_time, "postgresql")
def _postgresql(element: wire_time, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"""to_char({column}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


@compiles(wire_time)
def _default(element: wire_time, compiler: Any, **kw: Any) -> str:
    raise NotImplementedError("wire_time is defined for SQLite and PostgreSQL only")


class comma_joined(FunctionElement[str]):
    """Aggregate: the values of a column joined by commas (order not guaranteed)."""

    type = String()
    inherit_cache = True
    name = "comma_joined"


@compiles(comma_joined, "sqlite")
def _sqlite_joined(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined, "postgresql")
def _postgresql_joined(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"
