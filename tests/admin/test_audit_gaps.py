"""Audit records the pages and the console already wrote, now from the API and the CLI too
(SPEC §8), and the audit retention of `c42 purge`:

- `POST /api/v2/user-tokens/`: a refused login is `login_failed` (the pages' shape), a
  lock-out of the login limit one `rate_limit_lockout` per window;
- every operator command of the CLI writes an `admin.*` record (the console's type names)
  whose actor is the operator at the machine's console: no actor id, `via: "cli"`, the OS user;
- `c42 purge` deletes audit records older than `C42_AUDIT_RETENTION_DAYS` (0: never).

No record holds a secret (the passwords, tokens and client secrets used are searched for).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from c42 import audit
from c42.db import Database
from c42.migrate import upgrade
from c42.models import AuditEvent, utcnow
from c42.ops import purge
from c42.ratelimit import RateLimiter
from c42.settings import Settings
from tests.cli.test_cli_operators import Cli
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.ops.processes import environment, own_database, run

PASSWORD = "a long enough passphrase"
AGENT = "audit-gaps-agent/1.0"
C42 = str(Path(sys.executable).parent / "c42")


def records(db: Database, **where: Any) -> list[AuditEvent]:
    with db.session(write=False) as session:
        query = select(AuditEvent).order_by(AuditEvent.time, AuditEvent.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(session.scalars(query))


def all_records_text(db: Database) -> str:
    with db.session(write=False) as session:
        rows = [dict(row._mapping) for row in session.execute(select(AuditEvent.__table__))]
    return json.dumps(rows, default=str)


# --- the API's login -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """The app with a login limit of its own (2 attempts per hour and key or IP)."""
    live = LiveServer(settings.model_copy(update={"rate_limit_login": "2/3600"}), db)
    live.start()
    yield live
    live.stop()


def _login(live: LiveServer, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=live.url, timeout=30, headers={"User-Agent": AGENT}) as client:
        return client.post("/api/v2/user-tokens/", json={"email": email, "password": password})


def test_api_login_failures_are_audited_like_the_pages(
    api: LiveServer, db: Database, factory: Factory
) -> None:
    api.app.state.login_limiter = RateLimiter("login", 100, 3600)  # no lock-out here
    person = factory.user(password=PASSWORD)
    inactive = factory.user(password=PASSWORD, active=False)
    nobody = unique_email("nobody")

    assert _login(api, person.email, "not the password").status_code == 401
    assert _login(api, inactive.email, PASSWORD).status_code == 401
    before = len(records(db, type="login_failed", user_id=None))
    assert _login(api, nobody, "whatever it is").status_code == 401
    assert _login(api, person.email, PASSWORD).status_code == 201  # success: no login_failed

    [wrong] = records(db, type="login_failed", user_id=person.id)
    assert wrong.detail == {"reason": "invalid"}  # the pages' shape
    assert wrong.ip == "127.0.0.1" and wrong.user_agent == AGENT and wrong.actor_id is None
    [refused] = records(db, type="login_failed", user_id=inactive.id)
    assert refused.detail == {"reason": "inactive"}
    unknown = records(db, type="login_failed", user_id=None)
    assert len(unknown) == before + 1 and unknown[-1].detail == {"reason": "invalid"}
    text = all_records_text(db)
    assert "not the password" not in text and PASSWORD not in text and nobody not in text


def test_api_lockout_is_recorded_once_per_window(
    api: LiveServer, db: Database, factory: Factory
) -> None:
    api.app.state.login_limiter = RateLimiter("login", 2, 3600)
    person = factory.user(password=PASSWORD)
    statuses = [_login(api, person.email, "not the password").status_code for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    [lockout] = records(db, type="rate_limit_lockout", user_id=person.id)
    assert lockout.detail == {"limiter": "login", "window_seconds": 3600}
    assert lockout.ip == "127.0.0.1" and lockout.user_agent == AGENT
    assert len(records(db, type="login_failed", user_id=person.id)) == 2  # 429s never checked


# --- the CLI's operator actions --------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(settings: Settings) -> Cli:
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
    }
    env.pop("C42_TEST_DATABASE_URL", None)
    env.pop("C42_REDIS_URL", None)  # nothing listens: evictions are not what is tested here
    return Cli(env)


def _console(record: AuditEvent) -> None:
    """The shape of every CLI record: an operator at the machine, not a user."""
    assert record.actor_id is None
    assert record.detail["via"] == "cli"
    assert record.detail["os_user"] == getpass.getuser()
    assert record.ip is None and record.user_agent is None


def test_cli_user_actions_are_audited(cli: Cli, db: Database, factory: Factory) -> None:
    person = factory.user(password=PASSWORD)
    cli.ok("user", "deactivate", person.email, real=True)
    cli.ok("user", "activate", person.email, real=True)
    cli.ok("user", "staff", person.email, real=True)
    cli.ok("user", "staff", person.email, "--off", real=True)
    token_id = cli.json("token", "list", person.email)[0]["id"]
    cli.ok("token", "revoke", token_id, real=True)
    created = cli.json("action-token", "create", person.email, "--grant", "GET /api/v2/events/")
    cli.ok("action-token", "revoke", created["id"], real=True)
    cli.json("token", "create", person.email, "--name", "second")
    counts = cli.json("user", "revoke-credentials", person.email, real=True)

    mine = [r for r in records(db, user_id=person.id) if r.type.startswith("admin.")]
    assert [r.type for r in mine] == [
        "admin.user_deactivate",
        "admin.user_activate",
        "admin.user_staff",
        "admin.user_staff",
        "admin.user_token_revoke",
        "admin.action_token_revoke",
        "admin.user_revoke_all",
    ]
    for record in mine:
        _console(record)
    assert [r.detail["is_staff"] for r in mine[2:4]] == [True, False]
    assert mine[4].credential_id == token_id and mine[5].credential_id == created["id"]
    revoke_all = mine[6].detail
    assert {k: revoke_all[k] for k in counts if k != "email"} == {
        k: v for k, v in counts.items() if k != "email"
    }
    assert revoke_all["user_tokens"] == 1  # the second token
    # The revocations themselves are recorded as well (credential_revoked, by the repository).
    revoked = {r.credential_id for r in records(db, type="credential_revoked", user_id=person.id)}
    assert {token_id, created["id"]} <= revoked
    text = all_records_text(db)
    assert person.token not in text and created["token"] not in text and PASSWORD not in text


def test_cli_app_actions_are_audited(cli: Cli, db: Database, factory: Factory) -> None:
    service_id = factory.service("Audited apps")
    created = cli.json(
        "app",
        "create",
        "--service",
        service_id,
        "--name",
        "Audited",
        "--redirect-uri",
        "https://audited.example/cb",
        real=True,
    )
    client_id, first_secret = created["client_id"], created["client_secret"]
    cli.ok("app", "update", client_id, "--name", "Audited 2", real=True)
    cli.ok("app", "disable", client_id, real=True)
    cli.ok("app", "enable", client_id, real=True)
    rotated = cli.json("app", "rotate-secret", client_id, real=True)

    mine = [r for r in records(db, client_id=client_id) if r.type.startswith("admin.")]
    assert [r.type for r in mine] == [
        "admin.app_create",
        "admin.app_update",
        "admin.app_disable",
        "admin.app_enable",
        "admin.app_rotate_secret",
    ]
    for record in mine:
        _console(record)
        assert record.service_id == service_id
    assert mine[0].detail["public"] is False
    assert mine[1].detail["name"] == "Audited 2"
    text = all_records_text(db)
    assert first_secret not in text and rotated["client_secret"] not in text


def test_cli_records_are_listed_by_c42_audit(cli: Cli, factory: Factory) -> None:
    person = factory.user()
    cli.ok("user", "deactivate", person.email)
    lines = cli.ok("audit", "--user", person.email, "--type", "admin.*", "--json").splitlines()
    [shown] = [json.loads(line) for line in lines]
    assert shown["type"] == "admin.user_deactivate" and shown["actor_id"] is None
    assert shown["detail"]["via"] == "cli"


# --- the audit retention of `c42 purge` ------------------------------------------------------


@pytest.fixture
def own(tmp_path: Path) -> Iterator[tuple[Path, str, Database]]:
    with own_database(tmp_path) as url:
        upgrade(url)
        db = Database(url)
        try:
            yield tmp_path, url, db
        finally:
            db.dispose()


def _aged(db: Database, days: float, n: int = 1) -> list[str]:
    """`n` audit records written `days` ago."""
    ids = []
    with db.session() as s:
        for _ in range(n):
            ids.append(audit.record(s, "admin.test", note="aged"))
        table = AuditEvent.__table__
        when = utcnow() - timedelta(days=days)
        s.execute(update(table).where(table.c.id.in_(ids)).values(time=when))
    return ids


def _ids(db: Database) -> set[str]:
    return {r.id for r in records(db)}


def _purge(root: Path, url: str, *args: str, **variables: str) -> dict[str, Any]:
    done = run(root, environment(root, url, **variables), "purge", "--json", *args)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_purge_deletes_audit_records_past_their_retention(
    own: tuple[Path, str, Database],
) -> None:
    root, url, db = own
    old = _aged(db, 400, 3)
    kept = _aged(db, 300) + _aged(db, 0)

    forever = _purge(root, url, C42_AUDIT_RETENTION_DAYS="0")
    assert forever["audit_retention_days"] == 0 and forever["audit_before"] is None
    assert forever["counts"]["audit_events"] == 0
    assert _ids(db) == set(old + kept)

    dry = _purge(root, url, "--dry-run")  # the default: 365 days
    assert dry["audit_retention_days"] == 365
    assert dry["counts"]["audit_events"] == 3 and dry["total"] == 3
    assert _ids(db) == set(old + kept)

    done = _purge(root, url)
    assert done["counts"]["audit_events"] == 3
    assert _ids(db) == set(kept)
    assert _purge(root, url)["counts"]["audit_events"] == 0

    shorter = _purge(root, url, C42_AUDIT_RETENTION_DAYS="200")
    assert shorter["counts"]["audit_events"] == 1
    assert _ids(db) == set(kept[1:])


def test_audit_purge_runs_in_batches(own: tuple[Path, str, Database]) -> None:
    _root, _url, db = own
    _aged(db, 30, 5)
    recent = _aged(db, 1)
    report = purge.purge(db, 30, audit_retention_days=10, batch_size=2)
    assert report.counts["audit_events"] == 5
    assert _ids(db) == set(recent)
    assert purge.purge(db, 30, audit_retention_days=0).counts["audit_events"] == 0
