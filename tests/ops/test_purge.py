"""`c42 purge` (SPEC §7): ended credentials of every kind older than the retention are deleted,
with counts per kind; nothing within the retention and no live credential is touched, and every
live credential still works over HTTP afterwards. Run as the real process on a database of its
own (SQLite, or a PostgreSQL schema with C42_TEST_DATABASE_URL)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, create_engine, select, text, update

from c42 import accounts
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.browser_sessions import IDLE_TIMEOUT
from c42.auth.browser_sessions import start as start_session
from c42.auth.oauth import apps, codes, tokens
from c42.auth.subject import Grant
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.migrate import upgrade
from c42.models import (
    ActionToken,
    BrowserSession,
    OAuthAuthorizationCode,
    OAuthToken,
    UserToken,
    utcnow,
)
from c42.ops import purge
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.ops.processes import SECRET_KEY, environment, own_database, run, serving
from tests.web.helpers import logged_in_with, session_cookie

REDIRECT = "https://client.example/callback"
SCOPE = "service.read service.write"
RETENTION = timedelta(days=30)  # the default C42_PURGE_RETENTION_DAYS
TABLES: dict[str, Table] = {
    "authorization_codes": OAuthAuthorizationCode.__table__,  # type: ignore[dict-item]
    "oauth_tokens": OAuthToken.__table__,  # type: ignore[dict-item]
    "user_tokens": UserToken.__table__,  # type: ignore[dict-item]
    "action_tokens": ActionToken.__table__,  # type: ignore[dict-item]
    "browser_sessions": BrowserSession.__table__,  # type: ignore[dict-item]
}
# Kinds the seed has none of (oidc_grants: tests/oidc/test_purge_grants.py; device codes and
# pushed requests: tests/oauth/test_rfc8628_device.py, test_rfc9126_par.py).
UNSEEDED = {"oidc_grants": 0, "audit_events": 0, "device_codes": 0, "pushed_requests": 0}


@dataclass
class Seeded:
    """Row ids per kind: what the purge must delete and what it must keep, and the secrets of
    the live credentials among the kept ones."""

    doomed: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in TABLES})
    kept: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in TABLES})
    live: dict[str, str] = field(default_factory=dict)
    client_id: str = ""
    client_secret: str = ""


def _at(db: Database, kind: str, row_id: str, **values: Any) -> None:
    table = TABLES[kind]
    with db.engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == row_id).values(**values))


def seed(db: Database, settings: Settings) -> Seeded:
    """One row per way of ending (long ago, within the retention, or not at all) of each kind."""
    now = utcnow()
    old, recent = now - RETENTION - timedelta(days=10), now - timedelta(days=20)
    seeded = Seeded()
    with db.session() as s:
        user = accounts.create_user(s, f"purge-{secrets.token_hex(4)}@example.com", None)
        service = accounts.create_service(s, "Purge service", user)
        created = apps.create(
            s, settings.resolved_secret_key(), apps.AppSpec(service.id, "Purge app", [REDIRECT])
        )
        user_id, app_id = user.id, created.id
    seeded.client_id, seeded.client_secret = created.client_id, created.client_secret or ""

    # authorization codes: expired long ago (used or not) go; a recent one and a live one stay
    for name, expires, used in [
        ("expired", old, None),
        ("used", old, old),
        ("recent", recent, recent),
        ("live", now + timedelta(minutes=10), None),  # outlives the slow steps of the test
    ]:
        code = secrets.token_urlsafe(32)
        with db.session() as s:
            codes.save(
                s,
                code=code,
                app_id=app_id,
                user_id=user_id,
                redirect_uri=REDIRECT,
                redirect_uri_sent=True,
                scope=SCOPE,
                code_challenge=None,
                code_challenge_method=None,
                lifetime=60,
            )
            row_id = codes.find(s, code).id  # type: ignore[union-attr]
        _at(db, "authorization_codes", row_id, expires_at=expires, used_at=used)
        (seeded.doomed if expires == old else seeded.kept)["authorization_codes"].append(row_id)
        if name == "live":
            seeded.live["code"] = code

    # OAuth pairs: (name, has a refresh token, deleted?, end times)
    pairs: list[tuple[str, bool, bool, dict[str, datetime]]] = [
        ("both expired", True, True, {"access_expires_at": old, "refresh_expires_at": old}),
        (
            "refresh revoked",
            True,
            True,
            {"access_expires_at": old, "access_revoked_at": old, "refresh_revoked_at": old},
        ),
        ("access only, expired", False, True, {"access_expires_at": old}),
        (
            "access only, revoked",
            False,
            True,
            {"access_expires_at": now + timedelta(days=400), "access_revoked_at": old},
        ),
        # kept for reuse detection until the refresh token's own expiry (RFC 9700 §4.14.2)
        ("rotated", True, False, {"access_expires_at": old, "rotated_at": old}),
        (
            "revoked recently",
            True,
            False,
            {"access_revoked_at": recent, "refresh_revoked_at": recent},
        ),
        (
            "refresh expired recently",
            True,
            False,
            {"access_expires_at": old, "refresh_expires_at": recent},
        ),
        ("live refresh", True, False, {"access_expires_at": old}),
        ("live pair", True, False, {}),
    ]
    for name, with_refresh, doomed, values in pairs:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with db.unit_of_work() as work:
            row_id = tokens.insert(
                work,
                app_id=app_id,
                user_id=user_id,
                access_token=access,
                refresh_token=refresh if with_refresh else None,
                scope=SCOPE,
                family_id=None,
                code_id=None,
                access_lifetime=3600,
                refresh_lifetime=settings.refresh_token_lifetime,
            )
        if values:
            _at(db, "oauth_tokens", row_id, **values)
        (seeded.doomed if doomed else seeded.kept)["oauth_tokens"].append(row_id)
        if name == "live refresh":
            seeded.live["refresh_token"] = refresh
        if name == "live pair":
            seeded.live["access_token"] = access

    # User Tokens
    for name, values in [
        ("expired", {"expires_at": old}),
        ("revoked", {"revoked_at": old}),
        ("expired recently", {"expires_at": recent}),
        ("revoked recently", {"revoked_at": recent}),
        ("live, no expiry", {}),
        ("live, expiring", {"expires_at": now + timedelta(days=1)}),
    ]:
        with db.session() as s:
            made = user_tokens.create(s, user_id, name)
        if values:
            _at(db, "user_tokens", made.id, **values)
        doomed = values.get("expires_at") == old or values.get("revoked_at") == old
        (seeded.doomed if doomed else seeded.kept)["user_tokens"].append(made.id)
        if name.startswith("live"):
            seeded.live[f"user_token {name}"] = made.token

    # Action Tokens
    events = Grant("GET", "/api/v2/events/")
    action_cases: list[tuple[str, int | None, dict[str, Any]]] = [
        ("expired", None, {"expires_at": old}),
        ("revoked", None, {"revoked_at": old}),
        ("used up", 1, {"use_count": 1, "last_used": old}),
        ("used up recently", 1, {"use_count": 1, "last_used": recent}),
        ("uses left, idle", 5, {"use_count": 1, "last_used": old}),
        ("live", None, {}),
    ]
    for name, max_uses, values in action_cases:
        with db.session() as s:
            made_action = action_tokens.create(
                s, user_id=user_id, creator_id=user_id, grants=[events], max_uses=max_uses
            )
            action_id = made_action.row.id
        if values:
            _at(db, "action_tokens", action_id, **values)
        doomed = name in ("expired", "revoked", "used up")
        (seeded.doomed if doomed else seeded.kept)["action_tokens"].append(action_id)
        if name in ("uses left, idle", "live"):
            seeded.live[f"action_token {name}"] = made_action.token

    # browser sessions: absolute end, logout and idleness long ago go
    idle_long = now - RETENTION - IDLE_TIMEOUT - timedelta(days=1)
    for name, values in [
        ("expired", {"created": old, "last_seen": old, "expires_at": old}),
        ("ended", {"revoked_at": old}),
        ("idle", {"created": idle_long, "last_seen": idle_long, "expires_at": recent}),
        ("ended recently", {"revoked_at": recent}),
        ("idle recently", {"last_seen": now - IDLE_TIMEOUT - timedelta(days=1)}),
        ("live", {}),
    ]:
        with db.session() as s:
            started = start_session(s, user_id)
        if values:
            _at(db, "browser_sessions", started.session.id, **values)
        doomed = name in ("expired", "ended", "idle")
        (seeded.doomed if doomed else seeded.kept)["browser_sessions"].append(started.session.id)
        if name == "live":
            seeded.live["session"] = session_cookie(settings, {"sid": started.secret})
    return seeded


def present(db: Database) -> dict[str, set[str]]:
    with db.engine.connect() as connection:
        return {
            kind: set(connection.execute(select(table.c.id)).scalars())
            for kind, table in TABLES.items()
        }


@dataclass
class Place:
    root: Path
    url: str
    db: Database
    settings: Settings
    env: dict[str, str]


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    with own_database(tmp_path) as url:
        upgrade(url)
        settings = Settings(
            database_url=url,
            secret_key=SECRET_KEY,
            outbox_dir=tmp_path / "outbox",
            purge_interval=0,
        )
        db = Database(settings.database_url)
        try:
            yield Place(tmp_path, url, db, settings, environment(tmp_path, url))
        finally:
            db.dispose()


def purge_json(place: Place, *args: str) -> dict[str, Any]:
    done = run(place.root, place.env, "purge", "--json", *args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_purge_deletes_what_ended_long_ago_and_every_live_credential_still_works(
    place: Place,
) -> None:
    seeded = seed(place.db, place.settings)
    before = present(place.db)
    expected = {kind: len(ids) for kind, ids in seeded.doomed.items()}
    assert expected == {
        "authorization_codes": 2,
        "oauth_tokens": 4,
        "user_tokens": 2,
        "action_tokens": 3,
        "browser_sessions": 3,
    }

    dry = purge_json(place, "--dry-run")
    assert dry["dry_run"] is True
    assert dry["retention_days"] == 30
    assert dry["counts"] == expected | UNSEEDED  # none older than a year
    assert dry["total"] == sum(expected.values())
    assert present(place.db) == before  # a dry run deletes nothing

    done = purge_json(place)
    assert done["dry_run"] is False
    assert done["counts"] == expected | UNSEEDED
    ended_before = datetime.fromisoformat(done["ended_before"].removesuffix("Z"))
    assert abs(utcnow() - RETENTION - ended_before) < timedelta(minutes=5)
    after = present(place.db)
    for kind in TABLES:
        assert after[kind] == before[kind] - set(seeded.doomed[kind]), kind
        assert set(seeded.kept[kind]) <= after[kind], kind

    again = purge_json(place)
    assert again["counts"] == dict.fromkeys([*TABLES, *UNSEEDED], 0)  # nothing left

    # The text form names every kind with its count.
    text_output = run(place.root, place.env, "purge", "--dry-run")
    assert text_output.returncode == 0, text_output.stderr
    assert "would delete" in text_output.stdout
    for kind in TABLES:
        assert f"{kind} " in text_output.stdout

    server = LiveServer(place.settings, place.db)
    server.start()
    try:
        _every_live_credential_works(server.url, seeded)
    finally:
        server.stop()


def _every_live_credential_works(base_url: str, seeded: Seeded) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        live = seeded.live
        for name in ("user_token live, no expiry", "user_token live, expiring"):
            answer = client.get("/api/v2/events/", headers={"Authorization": f"Token {live[name]}"})
            assert answer.status_code == 200, (name, answer.text)
        for name in ("action_token uses left, idle", "action_token live"):
            headers = {"Authorization": f"ActionToken {live[name]}"}
            answer = client.get("/api/v2/events/", headers=headers)
            assert answer.status_code == 200, (name, answer.text)
        bearer = {"Authorization": f"Bearer {live['access_token']}"}
        assert client.get("/api/v2/events/", headers=bearer).status_code == 200
        auth = (seeded.client_id, seeded.client_secret)
        refreshed = client.post(
            "/oauth2/token/",
            data={"grant_type": "refresh_token", "refresh_token": live["refresh_token"]},
            auth=auth,
        )
        assert refreshed.status_code == 200, refreshed.text
        exchanged = client.post(
            "/oauth2/token/",
            data={
                "grant_type": "authorization_code",
                "code": live["code"],
                "redirect_uri": REDIRECT,
            },
            auth=auth,
        )
        assert exchanged.status_code == 200, exchanged.text
    assert logged_in_with(base_url, live["session"])


def test_purge_deletes_in_batches(place: Place) -> None:
    """More ended rows than a batch: every batch is its own transaction, all are deleted."""
    seeded = seed(place.db, place.settings)
    seed(place.db, place.settings)
    report = purge.purge(place.db, 30, batch_size=2)
    expected = {kind: 2 * len(ids) for kind, ids in seeded.doomed.items()}
    assert report.counts == expected | UNSEEDED  # audit records: kept forever here
    assert purge.purge(place.db, 30, dry_run=True).total == 0


def test_one_purge_at_a_time(place: Place) -> None:
    """While another process purges (holds the lock), `c42 purge` refuses to start a second."""
    seed(place.db, place.settings)
    with _purge_lock_held(place):
        busy = run(place.root, place.env, "purge")
        assert busy.returncode == 2
        assert busy.stderr.startswith("c42: error: another purge is running"), busy.stderr
        assert busy.stderr.count("\n") == 1
        with pytest.raises(purge.PurgeRunning):
            purge.purge(place.db, 30)
        # a dry run only reads: it needs no lock
        assert purge.purge(place.db, 30, dry_run=True).total == 14
    assert purge_json(place)["total"] == 14


@contextmanager
def _purge_lock_held(place: Place) -> Iterator[None]:
    """The lock a running purge holds, taken the way another process would."""
    if place.db.is_sqlite:
        fd = os.open(place.url.split("///", 1)[-1] + ".purge-lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
        return
    engine = create_engine(place.db.engine.url)
    try:
        with engine.connect() as connection:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": purge.LOCK_KEY}
            ).scalar()
            assert taken
            connection.commit()
            yield
    finally:
        engine.dispose()  # the session ends, and its lock with it


def test_serve_purges_periodically(place: Place) -> None:
    """`c42 serve` with C42_PURGE_INTERVAL=1 purges by itself, leaving live rows."""
    seeded = seed(place.db, place.settings)
    env = {**place.env, "C42_PURGE_INTERVAL": "1"}
    with serving(place.root, env, "--no-access-log") as served:
        deadline = time.monotonic() + 30

        def left() -> bool:  # one pass purges the kinds one after the other: wait for all
            now = present(place.db)
            return any(now[kind] & set(seeded.doomed[kind]) for kind in TABLES)

        while left():
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.2)
        after = present(place.db)
        for kind in TABLES:
            assert not after[kind] & set(seeded.doomed[kind]), kind
            assert set(seeded.kept[kind]) <= after[kind], kind
        assert served.terminate() == 0


def test_purge_queries_read_an_index(place: Place) -> None:
    """Each rule is a range of an index (migration 0006), never a scan of the table, so a
    purge stays cheap however long the history."""
    cutoff = utcnow() - RETENTION
    with place.db.engine.connect() as connection:
        if not place.db.is_sqlite:
            connection.execute(text("SET enable_seqscan = off"))  # tiny tables: plan as if big
        for kind, rules in [*purge.KINDS.items(), (purge.AUDIT_KIND, [purge.AUDIT_RULE])]:
            for rule in rules:
                query = purge.batch(rule, cutoff, purge.BATCH_SIZE)
                compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
                plan = _plan(connection, str(compiled), place.db.is_sqlite)
                # SQLite: "USING [COVERING] INDEX ix_...", PostgreSQL: "Index Scan using ix_..."
                # or "Bitmap Index Scan on ix_..." (never the primary key's index in full)
                assert re.search(r"(INDEX|Index Scan using|Index Scan on) ix_", plan), (kind, plan)
                assert "Seq Scan" not in plan, (kind, plan)
                assert f"SCAN {rule.table.name}" not in plan, (kind, plan)


def _plan(connection: Any, sql: str, sqlite: bool) -> str:
    if sqlite:  # SEARCH t USING INDEX ix_... (range) or SCAN t (every row)
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        return "\n".join(str(row[-1]) for row in rows)
    rows = connection.exec_driver_sql("EXPLAIN " + sql).all()  # (Bitmap) Index Scan or Seq Scan
    return "\n".join(str(row[0]) for row in rows)
