"""A unit of work on a Core connection, with an ORM session joined only on demand."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session


class Executes(Protocol):
    """Anything that runs a Core statement in its transaction: an ORM Session or a unit of
    work (for repository functions that need no compiled statement)."""

    def execute(self, statement: Any, parameters: Any = None, /) -> Any: ...


class UnitOfWork:
    """One transaction on one Core connection (see `Database.unit_of_work`), or the
    transaction of an ORM session (`joining`). Either way a `c42.compiled.Runner`: compiled
    statements run on `dbapi`, Core statements through `execute` (pending ORM changes first)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None
        self._owns_session = True

    @classmethod
    def joining(cls, session: Session) -> UnitOfWork:
        """The unit of work of an ORM session's transaction (begun if it was not yet: BEGIN
        IMMEDIATE for a write session on SQLite). Committing and closing stay with the
        session's owner."""
        work = cls(session.connection())
        work._session = session
        work._owns_session = False
        return work

    @property
    def dialect(self) -> Dialect:
        return self.connection.dialect

    @property
    def dbapi(self) -> Any:
        return self.connection.connection.dbapi_connection

    @property
    def session(self) -> Session:
        """An ORM session inside this transaction (created on first use). It flushes into the
        transaction; committing stays with the unit of work."""
        if self._session is None:
            self._session = Session(
                bind=self.connection, join_transaction_mode="rollback_only", expire_on_commit=False
            )
        return self._session

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """A Core statement on the transaction's connection (pending ORM changes first)."""
        self.flush()
        return self.connection.execute(statement, parameters)

    def scalars(self, statement: Any) -> Any:
        return self.execute(statement).scalars()

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        if self._session is not None and self._owns_session:
            self._session.close()
