"""Where a list's p99 comes from: wrk's latencies beside each worker's own view of the same run.

    C42_BENCH_DATABASE_URL=... .venv/bin/python -m bench.tail --database postgresql

Serves as `make bench` does (`c42 serve`, 2 workers), with `bench/tail_probe/` on the workers'
PYTHONPATH (its `sitecustomize` records, per worker: each request's time inside the worker
and its wrk connection, garbage collections, the event loop's lag, the wait for a pooled
PostgreSQL connection; see there). Then one warm-up and one measured wrk run, and per worker:
how many wrk connections it got, in-worker p50/p99 beside wrk's, GC pauses by generation,
loop lag, pool waits, and when (seconds into the run) the slow requests came.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import scenarios, seed, wrk
from bench.server import Server
from bench.targets import BENCH_DIR, targets

PROBE_DIR = Path(__file__).with_name("tail_probe")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tail", description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    p.add_argument("--scenario", default="events_list_token")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--reuse", action="store_true", help="reuse the seeded database")
    args = p.parse_args(argv)
    wrk.require_wrk()
    target = targets([args.database], [1])[0]
    seeded = (seed.load_manifest(target) if args.reuse else None) or seed.seed(target)
    scenario = next((s for s in scenarios.build(seeded) if s.name == args.scenario), None)
    if scenario is None:
        raise SystemExit(f"unknown scenario {args.scenario!r}")
    prefix = BENCH_DIR / "tail" / "worker"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for old in prefix.parent.glob("worker-*.json"):
        old.unlink()
    os.environ["C42_TAIL_PROBE"] = str(prefix.resolve())
    paths = [str(PROBE_DIR), *[x for x in os.environ.get("PYTHONPATH", "").split(":") if x]]
    os.environ["PYTHONPATH"] = ":".join(paths)
    load = wrk.Load(args.seconds, args.connections, 2)
    with Server(target.server_url, args.workers, BENCH_DIR / "server-tail.log") as server:
        pids = [server.pid, *server.worker_pids()]
        wrk.run(server.url, scenario, wrk.Load(2.0, args.connections, 2), pids)
        start = time.monotonic()
        result = wrk.run(server.url, scenario, load, pids, target.backend_pids)
        end = time.monotonic()
        time.sleep(1.5)  # the workers' last dump
    use = result.cpu.as_json(result.requests) if result.cpu else {}
    lat = result.latency_ms
    print(
        f"wrk: {result.rps:.0f} req/s  p50 {lat['p50']:.1f} ms  p99 {lat['p99']:.1f} ms  "
        f"max {lat['max']:.1f} ms  CPU/req server {use.get('server_us_per_request', 0):.0f} us "
        f"db {use.get('database_us_per_request', 0):.0f} us  others' CPU "
        f"{use.get('other_pct', 0):.0f}%  non-2xx {result.bad}"
    )
    for path in sorted(prefix.parent.glob("worker-*.json")):
        print(_worker_summary(path, start, end))
    return 1 if result.failures else 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _worker_summary(path: Path, start: float, end: float) -> str:
    data: dict[str, Any] = json.loads(path.read_text())
    requests = [(ms, t, port) for ms, t, port in data["req"] if start <= t <= end]
    if not requests:
        return f"{path.name}: no request in the measured run"
    times = [ms for ms, _, _ in requests]
    pauses: dict[int, list[float]] = {}
    for generation, ms, t in data["gc"]:
        if start <= t <= end:
            pauses.setdefault(generation, []).append(ms)
    gcs = ", ".join(
        f"gen{g} {len(ms)}x total {sum(ms):.0f} ms max {max(ms):.1f} ms"
        for g, ms in sorted(pauses.items())
    )
    lag = [ms for ms, t in data["lag"] if start <= t <= end]
    waits = [ms for ms, t in data["pool_wait"] if start <= t <= end]
    slow = sorted({round(t - start, 1) for ms, t, _ in requests if ms > 50})
    return (
        f"{path.stem}: {len(requests)} requests from {len({p for _, _, p in requests})} client "
        f"ports; in-worker p50 {_pct(times, 0.5):.1f} ms p99 {_pct(times, 0.99):.1f} ms "
        f"max {max(times):.1f} ms; loop lag p99 {_pct(lag, 0.99):.1f} ms; pool wait "
        f"p99 {_pct(waits, 0.99):.1f} ms; frozen objects {data['frozen']}\n"
        f"    GC: {gcs or 'none'}\n    requests > 50 ms at s: {slow[:20]}"
    )


if __name__ == "__main__":
    sys.exit(main())
