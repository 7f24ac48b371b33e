"""C42's events list served by Django REST framework over the same data: the reference of
SPEC §6 ("against a reference Django REST Framework + django-oauth-toolkit server on the
same data"), measured with the same load as `make bench`.

    .venv/bin/python -m bench.reference.drf
    .venv/bin/python -m bench.reference.drf --duration 2 --warmup 1   # a quick check

Copies C42's seeded SQLite benchmark database (var/bench/c42-bench-x1.sqlite3; seeded first
when missing) to var/reference/drf-x1.sqlite3 and works on the copy only: Django's tables are
migrated into it, the bench user and the sample users get a Django user, a DRF token each
and (the bench user) a django-oauth-toolkit access token. Serves bench/reference/drf_project
with gunicorn (sync workers) and measures `GET /health` and `GET /api/v2/events/?limit=10`
(Token, then Bearer) and `POST /api/v2/events/` by 16 writers, each in its own calendar
(bench/writes.py), with bench/wrk.py. Prints req/s, p50, p99, server CPU per request and
each list's ratio to the health check; writes var/reference/drf-results.json. Exit status 1
when any request failed (non-2xx, socket error) or a probe found a wrong answer.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import seed as bench_seed
from bench import writes as bench_writes
from bench import wrk
from bench.reference.gunicorn import Gunicorn
from bench.reference.measure import add_load_args, measure, write_results
from bench.reference.venv import HERE, ROOT, VAR, VENV, ensure_venv, locked_versions
from bench.scenarios import Scenario
from bench.seed import Seeded
from bench.targets import sqlite_target

SCALE = 1
DATABASE = VAR / f"drf-x{SCALE}.sqlite3"
EVENTS_PATH = "/api/v2/events/?limit=10"
HEALTH = "drf_health"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.reference.drf", description=__doc__.split("\n")[0]
    )
    add_load_args(p, VAR / "drf-results.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    python = ensure_venv()
    versions = locked_versions()
    print(
        f"DRF reference: djangorestframework {versions['djangorestframework']}, Django "
        f"{versions['django']}, django-oauth-toolkit {versions['django-oauth-toolkit']}, "
        f"gunicorn {versions['gunicorn']} ({args.workers} sync workers); wrk {args.threads} "
        f"threads, {args.connections} connections, {args.duration:g}s per run "
        f"({args.warmup:g}s warm-up)",
        flush=True,
    )
    seeded = benchmark_data()
    env = {
        "DOT_BENCH_SECRET_KEY": secrets.token_urlsafe(50),
        "DOT_BENCH_DATABASE": str(DATABASE),
    }
    chosen = prepare(python, env, seeded)
    results: dict[str, Any] = {}
    failures: list[str] = []
    rps: dict[str, float] = {}
    server = Gunicorn(
        VENV, HERE, "drf_project.wsgi:application", args.workers, env, VAR / "drf-server.log"
    )
    with server:
        workers = server.worker_pids()
        print(f"  serving on {server.url} (workers {workers})", flush=True)
        for scenario in chosen:
            out, problems, result = measure(server, [server.pid, *workers], scenario, args)
            results[scenario.name] = out
            failures += problems
            if result is not None:
                rps[scenario.name] = result.rps
        if server.worker_pids() != workers:
            failures.append("a gunicorn worker restarted during the run")
    ratios = _ratios(rps)
    for name, ratio in ratios.items():
        results[name]["ratio_to_health"] = ratio
        print(f"  {name:<26} {ratio:8.3f} x {HEALTH}")
    document = {
        "reference": f"Django REST framework: GET {EVENTS_PATH} (and /health)",
        "versions": versions,
        "database": str(DATABASE.relative_to(ROOT)),
        "seed": {"users": seeded.users, "events": seeded.events, "visible": seeded.visible_events},
    }
    write_results(args, "bench.reference.drf", document, results, failures)
    print(f"\nresults: {args.results}")
    for problem in failures:
        print(f"FAILED: {problem}")
    return 1 if failures else 0


def benchmark_data() -> Seeded:
    """The manifest of C42's SQLite benchmark database, seeded first when missing or stale;
    and a fresh copy of that database (never written)."""
    target = sqlite_target(SCALE)
    seeded = bench_seed.load_manifest(target)
    if seeded is None:
        print("  seeding C42's benchmark database first", flush=True)
        subprocess.run([sys.executable, "-m", "bench.seed", "--scale", str(SCALE)], check=True)
        seeded = bench_seed.load_manifest(target)
        if seeded is None:
            raise SystemExit("bench.seed left no usable manifest")
    source = Path(target.url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        DATABASE.with_name(DATABASE.name + suffix).unlink(missing_ok=True)
    print(f"  copying {source} to {DATABASE.relative_to(ROOT)}", flush=True)
    _copy(source, DATABASE)
    return seeded


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database that writes nothing beside the source."""
    wal = source.with_name(source.name + "-wal")
    if not wal.exists():  # every commit is in the main file (the last connection closed)
        shutil.copyfile(source, target)
        return
    # Pages still in the WAL: read through SQLite (read only: it leaves the -wal and -shm
    # files, already there, as they are).
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def prepare(python: Path, env: dict[str, str], seeded: Seeded) -> list[Scenario]:
    """Django's tables, users and tokens in the copy (tokens made here, per run, passed on
    stdin); the scenarios that use them."""
    with sqlite3.connect(DATABASE) as db:  # the sample users of bench/seed.py hold a token
        rows = db.execute("SELECT DISTINCT user_id FROM user_tokens WHERE name = 'bench'")
        sample = sorted({seeded.bench_user_id, *(row[0] for row in rows)})
        # the writers of bench/writes.py: (user, own calendar)
        writers = [
            (db.execute("SELECT creator_id FROM calendars WHERE id = ?", (cal,)).fetchone()[0], cal)
            for _, cal in seeded.writers
        ]
    db.close()
    sample = sorted({*sample, *(user for user, _ in writers)})
    tokens = {user: secrets.token_hex(20) for user in sample}  # DRF's format: 40 hex
    bearer = secrets.token_urlsafe(30)
    spec = {
        "users": [{"id": user, "token": token} for user, token in tokens.items()],
        "bearer": {"user": seeded.bench_user_id, "token": bearer},
    }
    print(f"  migrating Django's tables into the copy; {len(sample)} users", flush=True)
    subprocess.run(
        [str(python), "-m", "drf_project.seed"],
        input=json.dumps(spec).encode(),  # tokens on stdin, not in argv
        cwd=HERE,
        env={**os.environ, **env},
        check=True,
    )
    check = _events_page_check(seeded.visible_events)
    return [
        Scenario(HEALTH, "/health", check=_health_check),
        Scenario(
            "drf_events_list_token",
            EVENTS_PATH,
            headers={"Authorization": f"Token {tokens[seeded.bench_user_id]}"},
            check=check,
        ),
        Scenario(
            "drf_events_list_bearer",
            EVENTS_PATH,
            headers={"Authorization": f"Bearer {bearer}"},
            check=check,
        ),
        *_create_scenario(tokens, writers),
    ]


def _create_scenario(tokens: dict[str, str], writers: list[tuple[str, str]]) -> list[Scenario]:
    """POST /api/v2/events/ by the writers of bench/writes.py, each in its own calendar, one
    wrk thread and connection each (as C42's events_create_16_writers)."""
    if not writers:
        return []
    per_thread = tuple(
        (
            {"Authorization": f"Token {tokens[user]}", "Content-Type": "application/json"},
            bench_writes.body(calendar_id),
        )
        for user, calendar_id in writers
    )
    headers, body = per_thread[0]
    return [
        Scenario(
            bench_writes.DRF_CREATE,
            "/api/v2/events/",
            method="POST",
            headers=headers,
            body=body,
            per_thread=per_thread,
            check=_created_check,
        )
    ]


def _created_check(body: Any) -> str | None:
    if body.get("title") != "Bench write" or not body.get("calendar_ids"):
        return f"events create: unexpected answer {str(body)[:200]}"
    return None


def _health_check(body: Any) -> str | None:
    return None if body == {"status": "ok"} else f"health: unexpected body {body!r}"


def _events_page_check(visible: int) -> Callable[[Any], str | None]:
    """The bench user's first page: the count C42's list answers and 10 events."""

    def check(body: Any) -> str | None:
        count, data = body.get("meta_data", {}).get("count"), body.get("data", [])
        if count != visible or len(data) != 10:
            return f"events list: count {count} (want {visible}), {len(data)} events (want 10)"
        if any(not item.get("permission") or "calendar_ids" not in item for item in data):
            return "events list: an event without its permission or calendar ids"
        return None

    return check


def _ratios(rps: dict[str, float]) -> dict[str, float]:
    """req/s of each list / req/s of the health check (as bench/run.py reports them)."""
    health = rps.get(HEALTH)
    if not health:
        return {}
    return {name: round(value / health, 3) for name, value in rps.items() if name != HEALTH}


if __name__ == "__main__":
    sys.exit(main())
