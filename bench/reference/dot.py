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
import dataclasses
import hashlib
import json
import os
import platform
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import wrk
from bench.oauth import basic
from bench.reference.gunicorn import Gunicorn
from bench.scenarios import Scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VAR = ROOT / "var" / "reference"
VENV = VAR / "venv"
LOCK = HERE / "requirements-dot.lock"
STAMP = VENV / ".installed-dot"  # the lock file's digest once installed
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
    p.add_argument("--duration", type=float, default=5.0, help="s of measured load")
    p.add_argument("--warmup", type=float, default=2.0, help="s of warm-up load before it")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    p.add_argument(
        "--hashed",
        action="store_true",
        help="also measure DOT's default client secret (PBKDF2-hashed; about 10 req/s)",
    )
    p.add_argument("--results", type=Path, default=VAR / "results.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    # bench/wrk.py writes each run's bodies (mode 0600, removed after the run) under
    # BODIES_DIR: these go beside the reference database, not beside C42's.
    wrk.BODIES_DIR = VAR
    python = ensure_venv()
    versions = _locked_versions()
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
            results[one.case.name], problems = measure(server, pids, one, args)
            failures += problems
        if server.worker_pids() != workers:
            failures.append("a gunicorn worker restarted during the run")
    write_results(args, versions, results, failures)
    print(f"\nresults: {args.results}")
    for problem in failures:
        print(f"FAILED: {problem}")
    return 1 if failures else 0


def ensure_venv() -> Path:
    """var/reference/venv with the lock file installed; skipped when the stamp matches."""
    python = VENV / "bin" / "python"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return python
    print(f"  installing {LOCK.name} into {VENV}", flush=True)
    if not python.exists():
        # This interpreter's Python (venv resolves its base), so DOT runs on C42's version.
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    STAMP.write_text(digest + "\n")
    return python


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


def measure(
    server: Gunicorn, pids: list[int], one: Prepared, args: argparse.Namespace
) -> tuple[dict[str, Any], list[str]]:
    """Probe once, warm up, then the measured run: each wrk run spends its own pool."""
    name = one.case.name
    problem = one.scenario.probe(server.url)
    if problem:
        print(f"  {name}: probe failed: {problem}", flush=True)
        return {"probe": problem}, [f"probe {name}: {problem}"]
    failures: list[str] = []
    out: dict[str, Any] = {"hashed_client_secret": one.case.hashed}
    runs: list[tuple[str, float, Callable[[int], list[str]]]] = [
        ("warmup", args.warmup, one.warmup.take),
        ("run", args.duration, one.run.take),
    ]
    for label, seconds, bodies in runs:
        if seconds <= 0:
            continue
        load = wrk.Load(seconds, args.connections, args.threads)
        if one.case.timeout is not None:
            load = dataclasses.replace(load, timeout=one.case.timeout)
        scenario = dataclasses.replace(one.scenario, bodies=bodies)
        result = wrk.run(server.url, scenario, load, pids)
        out[label] = result.summary()
        failures += [f"{label} {f}" for f in result.failures]
        if label == "run":
            _print_result(result)
        if not server.wait_idle():
            failures.append(f"{name}: the workers were still busy 120 s after the {label}")
    return out, failures


def write_results(
    args: argparse.Namespace,
    versions: dict[str, str],
    results: dict[str, Any],
    failures: list[str],
) -> None:
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config["command"] = " ".join(["python", "-m", "bench.reference.dot", *sys.argv[1:]])
    document = {
        "reference": "django-oauth-toolkit refresh_token grant at POST /o/token/",
        "versions": versions,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cores": len(os.sched_getaffinity(0)),
        "config": config,
        "scenarios": results,
        "failures": failures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2) + "\n")


def _print_result(result: wrk.WrkResult) -> None:
    use = result.cpu.as_json(result.requests) if result.cpu else {}
    print(
        f"  {result.scenario:<26} {result.rps:8.0f} req/s  "
        f"p50 {result.latency_ms['p50']:7.2f} ms  p99 {result.latency_ms['p99']:7.2f} ms  "
        f"CPU/req server {use.get('server_us_per_request', 0):6.0f} us  "
        f"other {use.get('other_pct', 0):3.0f}%  non-2xx {result.bad}",
        flush=True,
    )
    if use.get("other_pct", 0) > 10:
        print("    warning: something else used the CPU during this run; req/s is unreliable")


def _check_token_response(body: Any) -> str | None:
    if body.get("token_type") != "Bearer" or not body.get("refresh_token"):
        return f"refresh: unexpected answer {sorted(body)}"
    return None


def _tokens(count: int) -> list[str]:
    return [secrets.token_urlsafe(30) for _ in range(count)]


def _body(refresh_token: str) -> str:
    return f"grant_type=refresh_token&refresh_token={refresh_token}"


def _locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            pins[name.lower()] = version
    return pins


if __name__ == "__main__":
    sys.exit(main())
