"""A unit of work on a Core connection, with an ORM session joined only on demand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session


class UnitOfWork:
    """One transaction on one Core connection (see `Database.unit_of_work`)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

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
        if self._session is not None:
            self._session.close()
