"""Clean-up of ended credentials (SPEC §7): `c42 purge` and `c42 serve`'s periodic run.

Deleted, per kind, once they ended more than the retention (`C42_PURGE_RETENTION_DAYS`) ago:

- authorization codes: expired;
- OAuth token pairs: the access token expired or revoked, and the refresh token (if any)
  expired or revoked. A rotated refresh token is kept until its own expiry plus the retention,
  so that presenting it again is still recognised as reuse and revokes its family
  (RFC 9700 §4.14.2);
- User Tokens and Action Tokens: expired or revoked; Action Tokens also when used up (counted
  from their last use);
- browser sessions: past their absolute end, idle past `IDLE_TIMEOUT`, or ended (logout,
  reset, an operator);
- OpenID Connect login contexts (`oidc_grants`): made more than the retention ago, and their
  token family has no `oauth_tokens` row left (purged above, in the same run).

A live credential never matches: every rule needs an end time older than the retention.

Audit records (SPEC §8) have a retention of their own (`C42_AUDIT_RETENTION_DAYS`, default 365;
0 keeps them forever): records older than it are deleted the same way, by `ix_audit_events_time`.
E-mailed one-time links (verification, password reset) are signed and single-use by their
content (c42.web.account_flows); no row is stored for them, so there is nothing to purge.

Each rule is a range of one index (migration 0006), deleted in batches of `BATCH_SIZE` rows,
each batch its own short transaction, so a purge never holds locks for long and reads what it
deletes rather than the whole history. One purge at a time: on PostgreSQL a session advisory
lock; on SQLite an `flock` on a file beside the database (SQLite serves one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    text,
)

from c42.auth.browser_sessions import IDLE_TIMEOUT
from c42.db import Database
from c42.logs import get_logger
from c42.models import (
    ActionToken,
    AuditEvent,
    BrowserSession,
    OAuthAuthorizationCode,
    OAuthDeviceCode,
    OAuthPushedRequest,
    OAuthToken,
    OIDCGrant,
    UserToken,
    utcnow,
)

log = get_logger("c42.purge")
BATCH_SIZE = 1000
LOCK_KEY = int.from_bytes(b"c42purge", "big")  # PostgreSQL advisory lock of the purge

_codes = OAuthAuthorizationCode.__table__
_pairs = OAuthToken.__table__
_user_tokens = UserToken.__table__
_action_tokens = ActionToken.__table__
_sessions = BrowserSession.__table__
_audit = AuditEvent.__table__
_oidc_grants = OIDCGrant.__table__
_device_codes = OAuthDeviceCode.__table__
_pushed = OAuthPushedRequest.__table__


@dataclass(frozen=True)
class Rule:
    """Rows of `table` that ended through one column more than the retention ago: `ended`
    builds the condition from the cutoff, as a range of one index."""

    table: Table
    ended: Callable[[datetime], ColumnElement[bool]]


def _access_ended(cutoff: datetime) -> ColumnElement[bool]:
    return or_(_pairs.c.access_expires_at < cutoff, _pairs.c.access_revoked_at < cutoff)


# Kind (as reported) -> its rules; each reads one index of migration 0006 (the query plans
# are checked by tests/ops/test_purge.py).
KINDS: dict[str, list[Rule]] = {
    "authorization_codes": [
        Rule(_codes, lambda c: _codes.c.expires_at < c),
    ],
    # RFC 8628 device codes and RFC 9126 pushed requests (migration 0010's expires_at indexes)
    "device_codes": [
        Rule(_device_codes, lambda c: _device_codes.c.expires_at < c),
    ],
    "pushed_requests": [
        Rule(_pushed, lambda c: _pushed.c.expires_at < c),
    ],
    "oauth_tokens": [
        # ix_oauth_tokens_refresh_expires_at_access_expires_at
        Rule(_pairs, lambda c: and_(_pairs.c.refresh_expires_at < c, _access_ended(c))),
        # ix_oauth_tokens_refresh_revoked_at
        Rule(_pairs, lambda c: and_(_pairs.c.refresh_revoked_at < c, _access_ended(c))),
        # Pairs without a refresh token (no refresh_expires_at): the same two composite indexes
        Rule(
            _pairs,
            lambda c: and_(_pairs.c.refresh_expires_at.is_(None), _pairs.c.access_expires_at < c),
        ),
        Rule(
            _pairs,
            lambda c: and_(_pairs.c.refresh_expires_at.is_(None), _pairs.c.access_revoked_at < c),
        ),
    ],
    # After the pairs: a family whose last pair went just now goes in the same run.
    # ix_oidc_grants_created; the family's pairs by ix_oauth_tokens_family_id.
    "oidc_grants": [
        Rule(
            _oidc_grants,
            lambda c: and_(
                _oidc_grants.c.created < c,
                ~exists().where(_pairs.c.family_id == _oidc_grants.c.family_id),
            ),
        ),
    ],
    "user_tokens": [
        Rule(_user_tokens, lambda c: _user_tokens.c.expires_at < c),
        Rule(_user_tokens, lambda c: _user_tokens.c.revoked_at < c),
    ],
    "action_tokens": [
        Rule(_action_tokens, lambda c: _action_tokens.c.expires_at < c),
        Rule(_action_tokens, lambda c: _action_tokens.c.revoked_at < c),
        # ix_action_tokens_used_up (its predicate is repeated so the index applies)
        Rule(
            _action_tokens,
            lambda c: and_(
                _action_tokens.c.max_uses.is_not(None),
                _action_tokens.c.use_count >= _action_tokens.c.max_uses,
                _action_tokens.c.last_used < c,
            ),
        ),
    ],
    "browser_sessions": [
        Rule(_sessions, lambda c: _sessions.c.expires_at < c),
        Rule(_sessions, lambda c: _sessions.c.revoked_at < c),
        Rule(_sessions, lambda c: _sessions.c.last_seen < c - IDLE_TIMEOUT),  # idle
    ],
}


AUDIT_KIND = "audit_events"
# ix_audit_events_time: records older than the audit retention (never while it is 0).
AUDIT_RULE = Rule(_audit, lambda c: _audit.c.time < c)


@dataclass(frozen=True)
class Report:
    ended_before: datetime  # the cutoff: rows that ended before it were (or would be) deleted
    counts: dict[str, int]  # per kind, AUDIT_KIND last
    dry_run: bool
    audit_before: datetime | None = None  # the audit records' cutoff; None: kept forever

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class PurgeRunning(Exception):
    """Another process is purging the same database."""


def purge(
    db: Database,
    retention_days: int,
    *,
    audit_retention_days: int = 0,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
) -> Report:
    """Delete (or, with `dry_run`, count) what ended more than `retention_days` ago, and the
    audit records older than `audit_retention_days` (0: none). Raises PurgeRunning when
    another process holds the purge lock. `should_stop` is asked between batches (a server
    shutting down)."""
    now = utcnow()
    cutoff = now - timedelta(days=retention_days)
    audit_before = now - timedelta(days=audit_retention_days) if audit_retention_days else None
    plan = [(kind, rules, cutoff) for kind, rules in KINDS.items()]
    if audit_before is not None:
        plan.append((AUDIT_KIND, [AUDIT_RULE], audit_before))
    counts = {kind: 0 for kind in [*KINDS, AUDIT_KIND]}
    if dry_run:
        with db.read() as connection:
            for kind, rules, before in plan:
                counts[kind] = _count(connection, rules, before)
        return Report(cutoff, counts, dry_run=True, audit_before=audit_before)
    with _one_purge_at_a_time(db):
        for kind, rules, before in plan:
            for rule in rules:
                counts[kind] += _delete(db, rule, before, batch_size, should_stop)
    report = Report(cutoff, counts, dry_run=False, audit_before=audit_before)
    if report.total:
        log.info("purge: %s", " ".join(f"{kind}={n}" for kind, n in counts.items()))
    return report


def _count(connection: Connection, rules: list[Rule], cutoff: datetime) -> int:
    condition = or_(*(rule.ended(cutoff) for rule in rules))
    table = rules[0].table
    return int(
        connection.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    )


def key(table: Table) -> Column[Any]:
    """The one-column primary key of a purged table (`id`; `family_id` for oidc_grants)."""
    (column,) = table.primary_key.columns
    return column


def batch(rule: Rule, cutoff: datetime, size: int) -> Select[tuple[str]]:
    """The keys of the next `size` rows the rule deletes."""
    return select(key(rule.table)).where(rule.ended(cutoff)).limit(size)


def _delete(
    db: Database, rule: Rule, cutoff: datetime, batch_size: int, should_stop: Callable[[], bool]
) -> int:
    table = rule.table
    statement = delete(table).where(
        key(table).in_(batch(rule, cutoff, batch_size).scalar_subquery())
    )
    deleted = 0
    while not should_stop():
        with db.unit_of_work() as work:  # one short write transaction per batch
            count = work.connection.execute(statement).rowcount
        deleted += count
        if count < batch_size:
            break
    return deleted


@contextlib.contextmanager
def _one_purge_at_a_time(db: Database) -> Iterator[None]:
    if db.is_sqlite:
        with _file_lock(db):
            yield
        return
    with db.engine.connect() as connection:
        # A session-level lock: it outlives the batches' commits, and ends with the connection
        # should this process die.
        if not connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
        ).scalar():
            raise PurgeRunning()
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            connection.commit()


@contextlib.contextmanager
def _file_lock(db: Database) -> Iterator[None]:
    path = db.url.split("///", 1)[-1]
    if not path or path == ":memory:":
        yield  # an in-memory database belongs to this process alone
        return
    fd = os.open(path + ".purge-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PurgeRunning() from None
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.asynccontextmanager
async def periodically(
    db: Database, retention_days: int, interval: float, audit_retention_days: int = 0
) -> AsyncIterator[None]:
    """While the context is open, purge every `interval` seconds in a worker thread (the
    first run one interval after start). 0 turns it off."""
    if interval <= 0:
        yield
        return
    stop = threading.Event()
    task = asyncio.create_task(_every(db, retention_days, audit_retention_days, interval, stop))
    try:
        yield
    finally:
        stop.set()  # a running purge stops after its current batch
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _every(
    db: Database, retention_days: int, audit_days: int, interval: float, stop: threading.Event
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(
                purge, db, retention_days, audit_retention_days=audit_days, should_stop=stop.is_set
            )
        except PurgeRunning:
            log.debug("purge skipped: another process is purging")
        except Exception as exc:  # e.g. the database is down: try again next time
            log.warning("purge failed: %s", type(exc).__name__)
