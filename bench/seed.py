"""The benchmark data set, written with Core bulk inserts (executemany) after the migrations.

Per user `i` of `n` (ids are random-looking but reproducible, 32 hex like `new_id()`):
- two calendars of their own, both `subscribed_write`: "Personal" and "Work"; "Work" belongs
  to the benchmark service and is shared read-only (`subscribed_read`) with user `i+1`;
- `events_per_user` events created by `i`, alternately in Personal and Work (Work's events
  carry the service's id, for Bearer scenarios), each with a direct `subscribed_write`
  subscription of its creator; one event in ten is a `todo` with a due date;
- one event in ten is shared with user `i+2` by an `invited_read` event subscription;
- every user is subscribed to the one benchmark service.

So each user reads `events_per_user` own events, half of user `i-1`'s (their Work calendar)
and a tenth of user `i-2`'s (the invitations): 160 events at the default 100 per user.
`python -m bench.seed --scale 10` seeds a database on its own (e.g. to inspect it).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Table, event, insert, text, update

from bench import oauth as bench_oauth
from bench import writes as bench_writes
from bench.targets import BENCH_DIR, Target, reset, targets
from c42.access import readable
from c42.access.permissions import Permission
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.migrate import alembic_config, upgrade
from c42.models import (
    Calendar,
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
    Service,
    ServiceSubscription,
    SyncCounter,
    User,
)

USERS_PER_SCALE = 1_000
EVENTS_PER_USER = 100
BATCH_USERS = 100  # users whose rows go into one executemany per table
BENCH_USER = 0  # index of the user whose User Token drives the authenticated scenarios
SAMPLE_USERS = 100  # users with a User Token each, for scenarios that spread over many users
EPOCH = datetime(2027, 1, 4, 8, 0)
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the scenarios need to know about a seeded database (kept as a manifest)."""

    url: str  # display form, no password
    scale: int
    revision: str
    users: int
    events: int
    rows: int
    seconds: float
    bench_user_id: str
    bench_email: str
    token: str  # the benchmark user's User Token (a bench-only secret, kept under var/bench/)
    service_id: str
    visible_events: int  # what the benchmark user's events list must count (any user's, too)
    sample_tokens: list[str]  # User Tokens of SAMPLE_USERS users spread over the whole range
    # OAuth (bench/oauth.py): the bench app's credentials and the bench user's access token.
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    bearer_token: str = ""
    bearer_visible_events: int = 0  # what the Bearer events list must count
    # The write scenarios' writers (bench/writes.py): [User Token, own calendar id] each.
    writers: list[list[str]] = field(default_factory=list)


def manifest_path(target: Target) -> Path:
    return BENCH_DIR / f"{target.slug}.json"


def head_revision(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    return str(head)


def load_manifest(target: Target) -> Seeded | None:
    """The manifest of an earlier seed, if the database still matches it (for `--reuse`)."""
    path = manifest_path(target)
    if not path.exists():
        return None
    try:
        seeded = Seeded(**json.loads(path.read_text()))
    except (TypeError, ValueError):
        return None  # written by another version of this module
    if seeded.scale != target.scale or seeded.revision != head_revision(target.url):
        return None
    db = Database(target.url)
    try:
        with db.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            users = connection.execute(text("SELECT count(*) FROM users")).scalar()
    except Exception:
        return None
    finally:
        db.dispose()
    if revision != seeded.revision or users != seeded.users + len(seeded.writers):
        return None
    return seeded


def seed(target: Target, progress: Progress = print) -> Seeded:
    """Reset the target, migrate it and fill it; returns (and saves) the manifest."""
    started = time.perf_counter()
    progress(f"  reset {target.display_url}")
    reset(target)
    upgrade(target.url)
    progress(f"  migrated to {head_revision(target.url)} ({time.perf_counter() - started:.1f}s)")
    n = USERS_PER_SCALE * target.scale
    ids = _Ids(seed=42 + target.scale)
    user_ids = [ids.next() for _ in range(n)]
    service_id = ids.next()
    db = Database(target.url)
    _bulk_load_settings(db)
    rows = 0
    try:
        with db.engine.begin() as connection:
            _bulk_transaction(connection)
            rows += _insert(connection, Service, [_service(service_id)])
            rows += _insert(connection, User, [_user(i, uid) for i, uid in enumerate(user_ids)])
        token = 0
        for first in range(0, n, BATCH_USERS):
            batch = _Batch(first, min(first + BATCH_USERS, n), n, user_ids, service_id, ids)
            token = batch.build(token)
            with db.engine.begin() as connection:
                _bulk_transaction(connection)
                rows += batch.write(connection)
            done = min(first + BATCH_USERS, n)
            if done == n or done % max(n // 10, BATCH_USERS) == 0:
                elapsed = time.perf_counter() - started
                progress(f"  {done:>6}/{n} users, {rows:>9} rows, {elapsed:6.1f}s")
        with db.engine.begin() as connection:
            # SQLite: the last token. PostgreSQL: the offset added to transaction ids
            # (c42.sync); either way every later token is above the seeded ones.
            connection.execute(update(SyncCounter.__table__).values(value=token))
        with db.engine.begin() as connection:
            readable.rebuild(connection)  # the list's read index (c42.access.readable)
        progress(f"  readable events rebuilt ({time.perf_counter() - started:.1f}s)")
        with db.session(write=True) as session:
            created = user_tokens.create(session, user_ids[BENCH_USER], name="bench")
            sample = [
                user_tokens.create(session, user_ids[i * n // SAMPLE_USERS], name="bench").token
                for i in range(SAMPLE_USERS)
            ]
        oauth_credentials = bench_oauth.seed_credentials(db, service_id, user_ids[BENCH_USER])
        writers = bench_writes.seed_writers(db)
        _analyze(db)
    finally:
        db.dispose()
    seconds = time.perf_counter() - started
    seeded = Seeded(
        url=target.display_url,
        scale=target.scale,
        revision=head_revision(target.url),
        users=n,
        events=n * EVENTS_PER_USER,
        rows=rows,
        seconds=round(seconds, 2),
        bench_user_id=user_ids[BENCH_USER],
        bench_email=_email(BENCH_USER),
        token=created.token,
        sample_tokens=sample,
        service_id=service_id,
        visible_events=_visible_events(n),
        bearer_visible_events=_visible_service_events(n),
        writers=writers,
        **oauth_credentials,
    )
    path = manifest_path(target)
    path.write_text(json.dumps(asdict(seeded), indent=2))
    path.chmod(0o600)
    progress(f"  seeded {rows} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s)")
    return seeded


def _visible_events(n: int) -> int:
    if n < 3:
        raise SystemExit("the benchmark needs at least 3 users")
    own = EVENTS_PER_USER
    via_work_calendar = (EVENTS_PER_USER + 1) // 2  # odd-numbered events of user i-1
    invited = len([k for k in range(EVENTS_PER_USER) if k % 10 == 5])  # of user i-2
    return own + via_work_calendar + invited


def _visible_service_events(n: int) -> int:
    """What a Bearer token of an app of the bench service reads: the events in Work calendars
    (odd-numbered ones) among those of `_visible_events`."""
    odd = [k for k in range(EVENTS_PER_USER) if k % 2 == 1]
    return len(odd) * 2 + len([k for k in odd if k % 10 == 5])  # own, user i-1's, invited


class _Ids:
    """Random-looking 32-hex ids (like `new_id()`), reproducible run to run."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def next(self) -> str:
        return f"{self._random.getrandbits(128):032x}"


def _email(i: int) -> str:
    return f"bench-{i:06d}@bench.c42.test"


def _service(service_id: str) -> dict[str, Any]:
    return {"id": service_id, "name": "Bench Service", "created": EPOCH, "modified": EPOCH}


def _user(i: int, user_id: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": _email(i),
        "password_hash": None,
        "first_name": "Bench",
        "last_name": f"User {i}",
        "is_active": True,
        "email_verified": True,
        "created": EPOCH,
        "modified": EPOCH,
    }


class _Batch:
    """The rows of users [first, last): built in Python, written with one executemany each."""

    def __init__(
        self, first: int, last: int, n: int, user_ids: list[str], service_id: str, ids: _Ids
    ) -> None:
        self.first, self.last, self.n = first, last, n
        self.user_ids = user_ids
        self.service_id = service_id
        self.ids = ids
        self.tables: dict[Table, list[dict[str, Any]]] = {}

    def build(self, token: int) -> int:
        rows: dict[Table, list[dict[str, Any]]] = {
            t: []
            for t in (
                ServiceSubscription.__table__,
                Calendar.__table__,
                CalendarSubscription.__table__,
                Event.__table__,
                EventCalendar.__table__,
                EventSubscription.__table__,
            )
        }
        for i in range(self.first, self.last):
            token += 1
            user = self.user_ids[i]
            rows[ServiceSubscription.__table__].append(
                {
                    "id": self.ids.next(),
                    "service_id": self.service_id,
                    "user_id": user,
                    "is_active": True,
                    "is_admin": i == BENCH_USER,
                    "created": EPOCH,
                }
            )
            personal, work = self.ids.next(), self.ids.next()
            for calendar_id, name, service in ((personal, "Personal", None), (work, "Work", 1)):
                rows[Calendar.__table__].append(
                    {
                        "id": calendar_id,
                        "name": name,
                        "category": name.lower(),
                        "service_id": self.service_id if service else None,
                        "creator_id": user,
                        "created": EPOCH,
                        "modified": EPOCH,
                        "sync_token": token,
                    }
                )
            neighbour = self.user_ids[(i + 1) % self.n]
            for calendar_id, subscriber, permission in (
                (personal, user, Permission.SUBSCRIBED_WRITE),
                (work, user, Permission.SUBSCRIBED_WRITE),
                (work, neighbour, Permission.SUBSCRIBED_READ),  # shared read-only
            ):
                rows[CalendarSubscription.__table__].append(
                    _subscription(self.ids.next(), subscriber, permission, user, token)
                    | {"calendar_id": calendar_id}
                )
            token = self._events(rows, i, personal, work, token)
        self.tables = rows
        return token

    def _events(
        self, rows: dict[Table, list[dict[str, Any]]], i: int, personal: str, work: str, token: int
    ) -> int:
        user = self.user_ids[i]
        invitee = self.user_ids[(i + 2) % self.n]
        for k in range(EVENTS_PER_USER):
            token += 1
            event_id = self.ids.next()
            in_work = k % 2 == 1
            rows[Event.__table__].append(_event(event_id, i, k, user, in_work, self, token))
            rows[EventCalendar.__table__].append(
                {"event_id": event_id, "calendar_id": work if in_work else personal}
            )
            creator = _subscription(self.ids.next(), user, Permission.SUBSCRIBED_WRITE, user, token)
            rows[EventSubscription.__table__].append(
                creator | _event_relation(event_id, "attending", invitation=False)
            )
            if k % 10 == 5:  # shared with user i+2
                shared = _subscription(
                    self.ids.next(), invitee, Permission.INVITED_READ, user, token
                )
                rows[EventSubscription.__table__].append(
                    shared | _event_relation(event_id, "not_replied", invitation=True)
                )
        return token

    def write(self, connection: Connection) -> int:
        return sum(_insert_rows(connection, table, rows) for table, rows in self.tables.items())


def _subscription(
    row_id: str, user_id: str, permission: int, actor: str, token: int
) -> dict[str, Any]:
    return {
        "id": row_id,
        "user_id": user_id,
        "permission": int(permission),
        "previous_permission": None,
        "actor_id": actor,
        "created": EPOCH,
        "modified": EPOCH,
        "sync_token": token,
    }


def _event_relation(event_id: str, rsvp: str, *, invitation: bool) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "rsvp_status": rsvp,
        "is_invitation": invitation,
        "message": "Join me" if invitation else "",
    }


def _event(
    event_id: str, i: int, k: int, user: str, in_work: bool, batch: _Batch, token: int
) -> dict[str, Any]:
    start = EPOCH + timedelta(days=(i * 7 + k) % 365, hours=k % 9)
    todo = k % 10 == 9
    return {
        "id": event_id,
        "event_type": "todo" if todo else "normal",
        "title": f"{'Task' if todo else 'Meeting'} {k} of user {i}",
        "description": "Benchmark event with a short description.",
        "start": None if todo else start,
        "end": None if todo else start + timedelta(hours=1),
        "start_timezone": None if todo else "Europe/Amsterdam",
        "end_timezone": None if todo else "Europe/Amsterdam",
        "all_day": False,
        "due": start if todo else None,
        "color": "#3366ff" if in_work else "",
        "service_id": batch.service_id if in_work else None,
        "creator_id": user,
        "created": EPOCH,
        "modified": EPOCH,
        "sync_token": token,
    }


def _insert(connection: Connection, model: Any, rows: list[dict[str, Any]]) -> int:
    return _insert_rows(connection, model.__table__, rows)


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """SQLite: one Core executemany (a C loop over one prepared statement). PostgreSQL: COPY
    of the same table's columns, since psycopg's executemany sends one statement per row
    (minutes for the 10x data set, against seconds)."""
    if not rows:
        return 0
    if connection.dialect.name == "sqlite":
        connection.execute(insert(table), rows)
    else:
        _copy(connection, table, rows)
    return len(rows)


def _copy(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    columns = [c for c in table.columns]
    defaults = {c.name: _default(c) for c in columns if c.name not in rows[0]}
    names = ", ".join(connection.dialect.identifier_preparer.quote(c.name) for c in columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[c.name] if c.name in row else defaults[c.name] for c in columns])


def _default(column: Any) -> Any:
    """What an INSERT would have put in a column the seed leaves out (COPY applies none)."""
    default = column.default
    if default is None:
        if not column.nullable:
            raise ValueError(f"seed gives no value for {column}")
        return None
    if not default.is_scalar:
        raise ValueError(f"seed must give {column} (its default is computed per row)")
    return default.arg


def _bulk_load_settings(db: Database) -> None:
    """SQLite: a page cache big enough for the whole file (random ids touch every page of every
    index), no journal and no fsync (a crash only loses a throw-away file). This seeding
    engine only; the server's own connections go back to WAL."""
    if not db.is_sqlite:
        return

    @event.listens_for(db.engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=OFF")  # the server turns WAL back on when it connects
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-2097152")  # KiB: 2 GiB, the 10x file fits
        cursor.close()


def _bulk_transaction(connection: Connection) -> None:
    """PostgreSQL: no wait for the WAL flush at each batch's commit, and, for a superuser, no
    foreign-key triggers (one index probe per row and key; the rows are consistent by
    construction). SQLite's settings are per connection, in `_bulk_load_settings`."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    superuser = connection.exec_driver_sql(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ).scalar()
    if superuser:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _analyze(db: Database) -> None:
    """PostgreSQL: fresh statistics and visibility map, as autovacuum would soon give a bulk
    load. SQLite is left as the app leaves it (the app runs no ANALYZE)."""
    if db.is_sqlite:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed a benchmark database.")
    parser.add_argument("--scale", type=int, default=1, help="x 1,000 users (default 1)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    seeded = seed(targets([args.database], [args.scale])[0])
    print(json.dumps({k: v for k, v in asdict(seeded).items() if k != "token"}, indent=2))


if __name__ == "__main__":
    main()
