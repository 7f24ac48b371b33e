"""What the reference benchmarks share: their load flags, one scenario's probe + warm-up +
measured run through bench/wrk.py, the printed line and the results file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench import wrk
from bench.reference.gunicorn import Gunicorn
from bench.scenarios import Scenario

Bodies = Callable[[int], list[str]]


def add_load_args(p: argparse.ArgumentParser, results: Path) -> None:
    """The flags of every reference run: the same load shape as `make bench`'s."""
    p.add_argument("--duration", type=float, default=5.0, help="s of measured load")
    p.add_argument("--warmup", type=float, default=2.0, help="s of warm-up load before it")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    p.add_argument("--results", type=Path, default=results)


def measure(
    server: Gunicorn,
    pids: list[int],
    scenario: Scenario,
    args: argparse.Namespace,
    bodies: Mapping[str, Bodies] | None = None,
    timeout: float | None = None,
) -> tuple[dict[str, Any], list[str], wrk.WrkResult | None]:
    """Probe once, warm up, then the measured run. `bodies` gives each wrk run ("warmup",
    "run") its own one-shot bodies when requests cannot be replayed. Returns the summaries,
    the failures and the measured run's result (None when the probe failed)."""
    problem = scenario.probe(server.url)
    if problem:
        print(f"  {scenario.name}: probe failed: {problem}", flush=True)
        return {"probe": problem}, [f"probe {scenario.name}: {problem}"], None
    failures: list[str] = []
    out: dict[str, Any] = {}
    measured: wrk.WrkResult | None = None
    for label, seconds in (("warmup", args.warmup), ("run", args.duration)):
        if seconds <= 0:
            continue
        load = wrk.Load(seconds, args.connections, args.threads)
        if timeout is not None:
            load = dataclasses.replace(load, timeout=timeout)
        one = scenario
        if bodies is not None:
            one = dataclasses.replace(scenario, bodies=bodies[label])
        result = wrk.run(server.url, one, load, pids)
        out[label] = result.summary()
        failures += [f"{label} {f}" for f in result.failures]
        if label == "run":
            measured = result
            print_result(result)
        if not server.wait_idle():
            failures.append(f"{scenario.name}: the workers were still busy 120 s after the {label}")
    return out, failures, measured


def print_result(result: wrk.WrkResult) -> None:
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


def write_results(
    args: argparse.Namespace,
    module: str,
    document: dict[str, Any],
    results: dict[str, Any],
    failures: list[str],
) -> None:
    """`document` (what was measured, versions...) + the machine, the run's configuration,
    the scenarios' results and the failures, to `args.results`."""
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config["command"] = " ".join(["python", "-m", module, *sys.argv[1:]])
    full = {
        **document,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cores": len(os.sched_getaffinity(0)),
        "config": config,
        "scenarios": results,
        "failures": failures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(full, indent=2) + "\n")
