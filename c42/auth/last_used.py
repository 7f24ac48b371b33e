"""When a credential was last used (SPEC §8: every User Token, Action Token and OAuth token
shows it, to the minute), written at most once a minute per credential.

Nothing here runs per request: credential look-ups run only on a miss of the credential cache
(`c42.auth.token_cache`, at most once a second per credential and process) and read the stored
minute with the credential. Only when that minute is older than the current one is it written,
by one UPDATE guarded by the same condition, so that processes racing for the same credential
write a given minute once between them and never move it backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update

from c42.db import Database
from c42.models import Base

_UPDATES: dict[str, Any] = {}


def minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def due(stored: datetime | None, now: datetime) -> bool:
    """Whether `stored` (the credential's last_used) is older than the current minute."""
    return stored is None or stored < minute(now)


def _update(model: type[Base]) -> Any:
    table = model.__table__
    statement = _UPDATES.get(table.name)
    if statement is None:
        statement = _UPDATES[table.name] = (
            update(table)
            .where(
                table.c.id == bindparam("credential_id"),
                or_(table.c.last_used.is_(None), table.c.last_used < bindparam("minute")),
            )
            .values(last_used=bindparam("minute"))
        )
    return statement


def record(db: Database, model: type[Base], credential_id: str, now: datetime) -> None:
    """Store the current minute as `credential_id`'s last use. A write transaction of its own
    (BEGIN IMMEDIATE on SQLite): a read snapshot is never upgraded to a writer."""
    with db.session(write=True) as session:
        session.execute(_update(model), {"credential_id": credential_id, "minute": minute(now)})
