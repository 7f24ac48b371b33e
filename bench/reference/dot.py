"""django-oauth-toolkit's refresh-token grant, measured on this machine the way the C42
benchmark measures `oauth_token_refresh` (issue 4's yardstick; for comparison only).

    .venv/bin/python -m bench.reference.dot             # plain-text client secret
    .venv/bin/python -m bench.reference.dot --hashed    # and DOT's default, PBKDF2-hashed

Installs the pinned DOT stack into var/reference/venv (once per lock file), seeds a fresh
SQLite database var/reference/dot.sqlite3 through DOT's models (a confidential app and one
refresh token per request to come), serves bench/reference/dot_project with gunicorn (sync
workers) and drives `POST /o/token/` with bench/wrk.py: the same wrk script, connections,
threads, warm-up and one-shot bodies as `oauth_token_refresh`. Writes
var/reference/results.json; exit status 1 when any request failed (non-2xx, socket error).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import wrk
from bench.oauth import basic
from bench.reference.gunicorn import Gunicorn
from bench.reference.measure import add_load_args, measure, write_results
from bench.reference.venv import HERE, ROOT, VAR, VENV, ensure_venv, locked_versions
from bench.scenarios import Scenario

DATABASE = VAR / "dot.sqlite3"
TOKEN_PATH = "/o/token/"


@dataclass(frozen=True, slots=True)
class Case:
    """One DOT application measured: its client secret stored plain or hashed."""

    name: str
    hashed: bool
    pool_per_second: int  # refresh tokens pooled per second of load (the rest are refused)
    timeout: float | None = None  # wrk's per-request timeout, when not bench/wrk.py's


PLAIN = Case("dot_token_refresh", hashed=False, pool_per_second=wrk.BODIES_PER_SECOND)
HASHED = Case(  # ~10/s expected: 32 queued requests wait longer than wrk's default 10 s
    "dot_token_refresh_pbkdf2", hashed=True, pool_per_second=200, timeout=60.0
)


@dataclass(slots=True)
class Pool:
    """One wrk run's one-shot bodies (refresh tokens cannot be sent twice)."""

    tokens: list[str]

    def take(self, count: int) -> list[str]:
        taken, self.tokens = self.tokens[:count], self.tokens[count:]
        return [_body(token) for token in taken]


@dataclass(slots=True)
class Prepared:
    """What the load needs of one case: its scenario and a pool per wrk run."""

    case: Case
    scenario: Scenario
    warmup: Pool
    run: Pool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.reference.dot", description=__doc__.split("\n")[0]
    )
    add_load_args(p, VAR / "results.json")
    p.add_argument(
        "--hashed",
        action="store_true",
        help="also measure DOT's default client secret (PBKDF2-hashed; about 10 req/s)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    # bench/wrk.py writes each run's bodies (mode 0600, removed after the run) under
    # BODIES_DIR: these go beside the reference database, not beside C42's.
    wrk.BODIES_DIR = VAR
    python = ensure_venv()
    versions = locked_versions()
    cases = [PLAIN, HASHED] if args.hashed else [PLAIN]
    print(
        f"DOT reference: django-oauth-toolkit {versions['django-oauth-toolkit']}, Django "
        f"{versions['django']}, gunicorn {versions['gunicorn']} ({args.workers} sync workers); "
        f"wrk {args.threads} threads, {args.connections} connections, {args.duration:g}s per "
        f"run ({args.warmup:g}s warm-up)",
        flush=True,
    )
    env = {
        "DOT_BENCH_SECRET_KEY": secrets.token_urlsafe(50),
        "DOT_BENCH_DATABASE": str(DATABASE),
    }
    prepared = seed(python, env, cases, args)
    results: dict[str, Any] = {}
    failures: list[str] = []
    server = Gunicorn(
        VENV,
        HERE,
        "dot_project.wsgi:application",
        args.workers,
        env,
        VAR / "server.log",
        ready_path=TOKEN_PATH,
    )
    with server:
        workers = server.worker_pids()
        pids = [server.pid, *workers]
        print(f"  serving on {server.url} (workers {workers})", flush=True)
        for one in prepared:
            out, problems, _ = measure(
                server,
                pids,
                one.scenario,
                args,
                bodies={"warmup": one.warmup.take, "run": one.run.take},
                timeout=one.case.timeout,
            )
            results[one.case.name] = {"hashed_client_secret": one.case.hashed, **out}
            failures += problems
        if server.worker_pids() != workers:
            failures.append("a gunicorn worker restarted during the run")
    reference = "django-oauth-toolkit refresh_token grant at POST /o/token/"
    document = {"reference": reference, "versions": versions}
    write_results(args, "bench.reference.dot", document, results, failures)
    print(f"\nresults: {args.results}")
    for problem in failures:
        print(f"FAILED: {problem}")
    return 1 if failures else 0


def seed(
    python: Path, env: dict[str, str], cases: list[Case], args: argparse.Namespace
) -> list[Prepared]:
    """A fresh database with one app per case and its pools (a probe token, the warm-up's,
    the measured run's), sized like bench/wrk.py sizes `oauth_token_refresh`'s."""
    for suffix in ("", "-wal", "-shm"):
        DATABASE.with_name(DATABASE.name + suffix).unlink(missing_ok=True)
    prepared: list[Prepared] = []
    apps: list[dict[str, Any]] = []
    for case in cases:
        warmup = _tokens(int(args.warmup * case.pool_per_second) + args.connections)
        run = _tokens(int(args.duration * case.pool_per_second) + args.connections)
        probe = _tokens(1)
        client_id, client_secret = secrets.token_hex(20), secrets.token_hex(64)
        apps.append(
            {
                "name": case.name,
                "client_id": client_id,
                "client_secret": client_secret,
                "hashed": case.hashed,
                "refresh_tokens": probe + warmup + run,
            }
        )
        scenario = Scenario(
            case.name,
            TOKEN_PATH,
            method="POST",
            headers={  # RFC 6749 §2.3.1 client_secret_basic, as oauth_token_refresh sends
                "Authorization": basic(client_id, client_secret),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=_body(probe[0]),
            check=_check_token_response,
        )
        prepared.append(Prepared(case, scenario, Pool(warmup), Pool(run)))
    total = sum(len(app["refresh_tokens"]) for app in apps)
    print(f"  seeding {DATABASE.relative_to(ROOT)}: {total} refresh tokens", flush=True)
    subprocess.run(
        [str(python), "-m", "dot_project.seed"],
        input=json.dumps({"apps": apps}).encode(),  # secrets on stdin, not in argv
        cwd=HERE,
        env={**os.environ, **env},
        check=True,
    )
    return prepared


def _check_token_response(body: Any) -> str | None:
    if body.get("token_type") != "Bearer" or not body.get("refresh_token"):
        return f"refresh: unexpected answer {sorted(body)}"
    return None


def _tokens(count: int) -> list[str]:
    return [secrets.token_urlsafe(30) for _ in range(count)]


def _body(refresh_token: str) -> str:
    return f"grant_type=refresh_token&refresh_token={refresh_token}"


if __name__ == "__main__":
    sys.exit(main())
