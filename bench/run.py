"""`make bench`: seed, serve as in production, load with wrk, report.

    .venv/bin/python -m bench.run                      # SQLite (+ PostgreSQL if configured)
    .venv/bin/python -m bench.run --duration 5 --reuse # quick re-run on the seeded databases
    .venv/bin/python -m bench.run --compare-scale 10   # also 10x users: p99 comparison

PostgreSQL runs too when `C42_BENCH_DATABASE_URL` is set (its database is created when
missing and its `public` schema is rebuilt). Every flag has a `C42_BENCH_*` environment
variable (e.g. `C42_BENCH_DURATION=5 make bench`). Exit status 1 when any request failed
(non-2xx, socket error), a probe found a wrong answer, or a worker's peak memory passed the
limit; targets (ratios, p99 at scale) are reported, not enforced.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench import cpu, read_targets, report, scenarios, seed, wrk
from bench.report import TargetRun
from bench.server import Server
from bench.targets import BENCH_DIR, PG_ENV, Target, targets


def _env(name: str, default: Any) -> Any:
    return os.environ.get(f"C42_BENCH_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_dbs = "sqlite,postgresql" if os.environ.get(PG_ENV) else "sqlite"
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=float(_env("DURATION", 10)), help="s/run")
    p.add_argument("--warmup", type=float, default=float(_env("WARMUP", 3)), help="s/scenario")
    p.add_argument("--rounds", type=int, default=int(_env("ROUNDS", 1)), help="medians over N")
    p.add_argument("--connections", type=int, default=int(_env("CONNECTIONS", 32)))
    p.add_argument("--threads", type=int, default=int(_env("THREADS", 2)), help="wrk threads")
    p.add_argument("--workers", type=int, default=int(_env("WORKERS", 2)), help="uvicorn")
    p.add_argument(
        "--databases",
        default=_env("DATABASES", default_dbs),
        help=f"comma list of sqlite, postgresql (default: {default_dbs})",
    )
    p.add_argument("--scale", type=int, default=int(_env("SCALE", 1)), help="x 1,000 users")
    p.add_argument(
        "--compare-scale",
        type=int,
        default=int(_env("COMPARE_SCALE", 0)),
        help="also run at this scale and compare p99 with x1 (e.g. 10)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[s for s in _env("SCENARIOS", "").split(",") if s],
        help="only these scenarios (repeatable; the health baseline always runs)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        default=_env("REUSE", "") not in ("", "0"),
        help="reuse a database seeded earlier at the same schema revision",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=float(_env("WAIT_QUIET", 0)),
        help="before each database, wait up to this many seconds for the machine to be "
        "quiet (others using < 10%% of the CPU); on a shared machine, e.g. 600",
    )
    p.add_argument("--results", type=Path, default=BENCH_DIR / "results.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.require_wrk()
    scales = [args.scale] if not args.compare_scale else sorted({1, args.compare_scale})
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    load = wrk.Load(args.duration, args.connections, args.threads)
    print(
        f"C42 benchmark: {', '.join(kinds)} at x{', x'.join(map(str, scales))}; wrk "
        f"{args.threads} threads, {args.connections} connections, {args.duration:g}s per run "
        f"({args.warmup:g}s warm-up), {args.rounds} round(s); {args.workers} uvicorn workers",
        flush=True,
    )
    runs = [bench_target(t, args, load) for t in targets(kinds, scales)]
    failures = [f for run in runs for f in run.failures] + report.memory_failures(runs)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config["command"] = " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]])
    report.write(args.results, runs, config, failures)
    print()
    print(report.table(runs))
    print("\nissue 12 read targets (SPEC §6, on each database):")
    print("\n".join(read_targets.verdicts(runs)) or "  (no list scenario ran)")
    print(f"\nresults: {args.results}")
    for problem in failures:
        print(f"FAILED: {problem}")
    return 1 if failures else 0


def bench_target(target: Target, args: argparse.Namespace, load: wrk.Load) -> TargetRun:
    print(f"\n== {target.label}: {target.display_url}", flush=True)
    seeded = seed.load_manifest(target) if args.reuse else None
    if seeded is None:
        seeded = seed.seed(target, progress=lambda m: print(m, flush=True))
    else:
        print(f"  reusing the database seeded earlier ({seeded.users} users)", flush=True)
    chosen = scenarios.build(seeded, args.scenario)
    run = TargetRun(
        database=target.kind,
        scale=target.scale,
        url=target.display_url,
        seed={
            "users": seeded.users,
            "events": seeded.events,
            "rows": seeded.rows,
            "seconds": seeded.seconds,
            "visible_events": seeded.visible_events,
            "reused": args.reuse and seeded is not None,
        },
        server_version=_server_version(target),
        target_ratios={s.name: s.target_ratio for s in chosen},
    )
    run.background_cpu_pct = _wait_quiet(args.wait_quiet)
    print(f"  machine busy before start: {run.background_cpu_pct:.0f}% of its CPU", flush=True)
    log = BENCH_DIR / f"server-{target.slug}.log"
    with Server(target.server_url, args.workers, log) as server:
        workers = server.worker_pids()
        pids = sorted({server.pid, *workers})
        print(f"  serving on {server.url} (workers {workers})", flush=True)
        for scenario in chosen:
            problem = scenario.probe(server.url)
            if problem:
                run.failures.append(f"{target.label} probe {scenario.name}: {problem}")
        if run.failures:
            print("\n".join(f"  {f}" for f in run.failures), flush=True)
            return run
        if args.warmup > 0:
            for scenario in chosen:
                warm = wrk.run(server.url, scenario, wrk.Load(args.warmup, *_shape(load)), pids)
                run.failures += [f"{target.label} warm-up {f}" for f in warm.failures]
        for round_no in range(args.rounds):
            for scenario in chosen:
                sessions = target.sessions_opened()
                result = wrk.run(server.url, scenario, load, pids, target.backend_pids)
                if sessions is not None:
                    # minus the 3 connections of our own sampling queries
                    opened = (target.sessions_opened() or 0) - sessions - 3
                    result.extra["db_connections_opened"] = max(opened, 0)
                run.rounds.setdefault(scenario.name, []).append(result)
                run.failures += [f"{target.label} {f}" for f in result.failures]
                _print_round(round_no, result)
        if server.worker_pids() != workers:
            run.failures.append(f"{target.label}: a worker restarted during the run")
        time.sleep(0.2)
        run.workers = server.memory()
    return run


def _wait_quiet(patience: float, quiet_pct: float = 10.0) -> float:
    """The machine's busy share now, after waiting (up to `patience` s) for it to fall."""
    deadline = time.monotonic() + patience
    busy = cpu.background_busy(2.0)
    while busy > quiet_pct and time.monotonic() < deadline:
        print(f"  waiting for a quiet machine ({busy:.0f}% busy)", flush=True)
        time.sleep(10)
        busy = cpu.background_busy(2.0)
    return busy


def _print_round(round_no: int, result: wrk.WrkResult) -> None:
    use = result.cpu.as_json(result.requests) if result.cpu else {}
    print(
        f"  round {round_no + 1} {result.scenario:<22} {result.rps:8.0f} req/s  "
        f"p50 {result.latency_ms['p50']:7.2f} ms  p99 {result.latency_ms['p99']:7.2f} ms  "
        f"CPU/req server {use.get('server_us_per_request', 0):5.0f} us"
        f" db {use.get('database_us_per_request', 0):4.0f} us  "
        f"other {use.get('other_pct', 0):3.0f}%  non-2xx {result.bad}"
        + (f"  new db conns {result.extra['db_connections_opened']}" if result.extra else ""),
        flush=True,
    )
    if use.get("other_pct", 0) > 10:
        print("    warning: something else used the CPU during this run; req/s is unreliable")


def _shape(load: wrk.Load) -> tuple[int, int, float]:
    return load.connections, load.threads, load.timeout


def _server_version(target: Target) -> str:
    if target.kind == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(target.url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
