"""Where the time of one request goes: py-spy samples one uvicorn worker under wrk load.

    .venv/bin/uv pip install --python .venv/bin/python py-spy    # once (not a dependency)
    .venv/bin/python -m bench.profile --reuse                     # events list, SQLite
    .venv/bin/python -m bench.profile --reuse --database postgresql --scenario health

Serves the seeded database with `c42 serve --workers 1` (the app in one process), warms up,
then samples it with py-spy (all threads, Python and C frames, so that waits on the network,
the GIL or epoll can be told from work; py-spy stops the process for each sample, hence the
low default rate) while wrk
drives one scenario. Prints the share of CPU samples per category (`bench.stacks`), the
inclusive share of key frames, both also as microseconds of worker CPU per request, and the
hottest leaves. Raw collapsed stacks go to var/bench/profile-<db>-<scenario>.txt (feed them
to flamegraph.pl or speedscope for a picture).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import cpu, scenarios, seed, stacks, wrk
from bench.cpu import CpuMeter
from bench.server import Server
from bench.targets import BENCH_DIR, targets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--scenario", default="events_list_token")
    p.add_argument("--seconds", type=float, default=15.0, help="sampled load (default 15)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    p.add_argument("--rate", type=int, default=100, help="py-spy samples/s (default 100)")
    p.add_argument(
        "--python-only",
        action="store_true",
        help="no C frames: py-spy need not stop the process per sample (use a higher --rate), "
        "but waits in C (network, GIL, epoll) then look like work",
    )
    p.add_argument("--reuse", action="store_true", help="reuse the seeded database")
    p.add_argument("--scale", type=int, default=1, help="x 1,000 users (default 1)")
    args = p.parse_args(argv)

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit(
            "py-spy is missing: .venv/bin/uv pip install --python .venv/bin/python py-spy"
        )
    wrk.require_wrk()
    target = targets([args.database], [args.scale])[0]
    seeded = (seed.load_manifest(target) if args.reuse else None) or seed.seed(target)
    scenario = next((s for s in scenarios.build(seeded) if s.name == args.scenario), None)
    if scenario is None:
        raise SystemExit(f"unknown scenario {args.scenario!r}")
    raw = BENCH_DIR / f"profile-{target.kind}-{scenario.name}.txt"

    with Server(target.server_url, 1, BENCH_DIR / "server-profile.log") as server:
        problem = scenario.probe(server.url)
        if problem:
            raise SystemExit(problem)
        warm = wrk.Load(2.0, args.connections, 1)
        wrk.run(server.url, scenario, warm, [server.pid])  # imports, caches, pools
        spy = _start_py_spy(py_spy, server.pid, raw, args)
        time.sleep(1.0)  # py-spy attaches
        meter = CpuMeter([server.pid], target.backend_pids)
        threads_before = cpu.thread_ticks(server.pid)
        result = wrk.run(
            server.url, scenario, wrk.Load(args.seconds, args.connections, 1), [server.pid]
        )
        main_s, pool_s = cpu.split_threads(server.pid, threads_before, cpu.thread_ticks(server.pid))
        use = meter.stop()
        spy.wait(timeout=args.seconds + 30)
    if result.failures:
        raise SystemExit("; ".join(result.failures))
    report = _report(raw, result.requests, use.server_s, use.database_s, result.rps)
    per_request = 1e6 / max(result.requests, 1)
    report["event_loop_thread_cpu_us_per_request"] = round(main_s * per_request, 1)
    report["other_threads_cpu_us_per_request"] = round(pool_s * per_request, 1)
    print(
        f"\nworker CPU by thread: event loop {main_s * per_request:.0f} us/req, threadpool "
        f"and others {pool_s * per_request:.0f} us/req (from /proc, not sampled)"
    )
    report.update(scenario=scenario.name, database=target.kind, raw_stacks=str(raw))
    out = BENCH_DIR / f"profile-{target.kind}-{scenario.name}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nsummary: {out}\nstacks:  {raw}")
    return 0


def _start_py_spy(py_spy: str, pid: int, raw: Path, args: argparse.Namespace) -> Any:
    command = [py_spy, "record", "--pid", str(pid), "--rate", str(args.rate), "--format", "raw"]
    command += ["--output", str(raw), "--duration", str(int(args.seconds + 2))]
    command.append("--nonblocking" if args.python_only else "--native")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _report(
    raw: Path, requests: int, server_s: float, database_s: float, rps: float
) -> dict[str, Any]:
    found = stacks.breakdown(raw.read_text().splitlines())
    busy = found.busy or 1
    cpu_us = 1e6 * server_s / requests if requests else 0.0
    print(
        f"\n{requests} requests, {rps:.0f} req/s on one worker; worker CPU {cpu_us:.0f} us per "
        f"request (+ database backends {1e6 * database_s / max(requests, 1):.0f} us); "
        f"{found.busy} busy samples ({found.waiting} waiting samples left out)\n"
    )
    print(f"{'where the worker CPU goes':<66}{'share':>7}{'us/req':>8}")
    for name, count in found.categories:
        print(f"{name:<66}{100 * count / busy:>6.1f}%{cpu_us * count / busy:>8.0f}")
    print(f"\n{'inclusive (frame anywhere on the stack)':<66}{'share':>7}{'us/req':>8}")
    for name, count in found.key_frames:
        print(f"{name:<66}{100 * count / busy:>6.1f}%{cpu_us * count / busy:>8.0f}")
    print("\nhottest leaves")
    for name, count in found.top_leaves:
        print(f"  {100 * count / busy:5.1f}%  {name[:110]}")
    return {
        "requests": requests,
        "rps": round(rps, 1),
        "worker_cpu_us_per_request": round(cpu_us, 1),
        "database_cpu_us_per_request": round(1e6 * database_s / max(requests, 1), 1),
        "busy_samples": found.busy,
        "waiting_samples": found.waiting,
        "categories": {n: round(100 * c / busy, 2) for n, c in found.categories},
        "key_frames": {n.strip(): round(100 * c / busy, 2) for n, c in found.key_frames},
        "top_leaves": {n: round(100 * c / busy, 2) for n, c in found.top_leaves},
    }


if __name__ == "__main__":
    sys.exit(main())
