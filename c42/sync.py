"""The global sync token (SPEC §4): the token a write takes, and the token a read reports.

A client that synced up to N must never later meet a change committed with a token <= N, and
must never be told about a change that does not exist. Two rules give that on each database:

- a write's changes all carry its transaction's token (`take`);
- a read reports the *watermark* (`watermark`, `current`): a token W such that every token
  <= W belongs to a transaction that had ended (committed or rolled back) when the read's
  snapshot was taken. Committed ones are in that snapshot, so the answer holds all their
  changes; later commits all carry tokens > W, so the next sync (`sync_token=W`) gets them.

SQLite has one writer at a time (the write lock is held from BEGIN IMMEDIATE to COMMIT), so a
counter row does both: the writer increments `sync_counter.value`, readers see the last
committed value, which is the watermark.

PostgreSQL writes in parallel, so the counter row's lock (held to commit) made every planning
write wait for the previous one. There the token is the writer's transaction id (`xid8`,
64-bit, never reused) plus a fixed offset kept in `sync_counter.value` (set by migration 0009
so that tokens continue above those the counter handed out). Taking it locks nothing and
assigns the transaction id at once. The watermark comes from the reader's own snapshot, by
the function `c42_sync_watermark()` (migration 0009):

    W = min(in-flight transaction ids of this database, own transaction id, snapshot xmax)
        - 1 + offset

where "in flight" is the snapshot's list of transactions running when it was taken
(`pg_snapshot_xip`). Why it is exact: a transaction id below the snapshot's xmax that is not
in that list had ended when the snapshot was taken, so its changes, if committed, are visible
to the read; one in the list, or >= xmax, yields a token >= W + 1. Transaction ids are given
out in increasing order, so W never goes backwards between snapshots taken one after another.
Ids of other databases of the cluster are left out only when `pg_stat_get_activity` shows
them running in another database (a positive identification: an id that cannot be placed
counts as ours), so a long transaction elsewhere does not stall syncs here; a long writing
transaction in this database does (answers keep the older token until it ends, they never
skip its changes). Reads stay cheap: the activity table is read only when the snapshot has
transactions in flight below its own horizon.

A change may thus be reported twice (in a page read while its token was above the watermark,
and again by the next sync): repeating a committed state is allowed, missing one is not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

# The token of this transaction. PostgreSQL: `pg_current_xact_id()` assigns the id now if
# the transaction has none yet (it would at its first write anyway).
_TAKE = {
    "sqlite": text("UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value"),
    "postgresql": text(
        "SELECT pg_current_xact_id()::text::bigint + value FROM sync_counter WHERE id = 1"
    ),
}


class watermark(FunctionElement[int]):
    """The current sync token of the reading statement's snapshot, as a SQL expression (for
    queries that return it with their rows: one snapshot, one round trip)."""

    type = BigInteger()
    inherit_cache = True
    name = "sync_watermark"


@compiles(watermark, "sqlite")
def _sqlite(element: watermark, compiler: Any, **kw: Any) -> str:
    return "(SELECT value FROM sync_counter WHERE id = 1)"


@compiles(watermark, "postgresql")
def _postgresql(element: watermark, compiler: Any, **kw: Any) -> str:
    # A sub-select: evaluated once per statement (an InitPlan), not once per row of a page.
    return "(SELECT c42_sync_watermark())"


@compiles(watermark)
def _default(element: watermark, compiler: Any, **kw: Any) -> str:
    raise NotImplementedError("the sync watermark is defined for SQLite and PostgreSQL only")


_CURRENT = select(watermark())


def take(session: Session | Connection) -> int:
    """The sync token of this transaction's changes (one per transaction: cached)."""
    info = session.info
    cached = info.get("sync_token")
    if cached is not None:
        return int(cached)  # one request, one token for all its changes
    value = int(session.execute(_TAKE[_dialect(session)]).scalar_one())
    info["sync_token"] = value
    return value


def current(session: Session | Connection) -> int:
    """The token to report in `meta_data.sync_token`: the watermark (see the module)."""
    return int(session.execute(_CURRENT).scalar_one())


def _dialect(work: Session | Connection) -> str:
    bind = work.get_bind() if isinstance(work, Session) else work
    return str(bind.dialect.name)


# The PostgreSQL function of the watermark, created by migration 0009. STABLE: it runs with
# the calling statement's snapshot (`pg_current_snapshot()` is that snapshot).
WATERMARK_FUNCTION = """
CREATE OR REPLACE FUNCTION c42_sync_watermark() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    snap pg_snapshot := pg_current_snapshot();
    horizon bigint := pg_snapshot_xmax(snap)::text::bigint;
    own bigint := pg_current_xact_id_if_assigned()::text::bigint;
    oldest bigint;
BEGIN
    IF own IS NOT NULL AND own < horizon THEN
        horizon := own;  -- a writer's own answer never reaches past its uncommitted changes
    END IF;
    IF pg_snapshot_xmin(snap)::text::bigint < horizon THEN
        -- Transactions in flight below the horizon; leave out those positively known to run
        -- in another database of the cluster.
        SELECT min(x::text::bigint) INTO oldest
        FROM pg_snapshot_xip(snap) AS x
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_get_activity(NULL) AS a
            WHERE a.backend_xid = xid(x)
              AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
        );
        IF oldest IS NOT NULL AND oldest < horizon THEN
            horizon := oldest;
        END IF;
    END IF;
    RETURN horizon - 1 + (SELECT value FROM sync_counter WHERE id = 1);
END;
$$
"""
