"""Run wrk with bench/c42.lua and turn its output into numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter, CpuUse
from bench.scenarios import Scenario

SCRIPT = Path(__file__).with_name("c42.lua")
BODIES_DIR = Path("var/bench")  # one-shot bodies hold secrets: kept beside the manifests
BODIES_PER_SECOND = 4000  # a pool larger than any run of a writing endpoint here needs
MARKER = "C42BENCH "


@dataclass(frozen=True, slots=True)
class Load:
    duration: float  # seconds
    connections: int = 32
    threads: int = 2
    timeout: float = 10.0  # a response slower than this counts as a socket timeout


@dataclass(slots=True)
class WrkResult:
    scenario: str
    requests: int
    seconds: float
    rps: float
    latency_ms: dict[str, float]  # min mean stdev max p50 p75 p90 p99 p999
    ok: int
    bad: int  # responses that were not 2xx (3xx included)
    bad_codes: list[int]
    socket_errors: dict[str, int]  # connect read write timeout (and wrk's own status count)
    output: str = field(repr=False)
    cpu: CpuUse | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. database connections opened

    @property
    def failures(self) -> list[str]:
        problems = []
        if self.bad:
            codes = sorted(set(self.bad_codes))
            problems.append(f"{self.scenario}: {self.bad} non-2xx responses (status {codes})")
        errors = {k: v for k, v in self.socket_errors.items() if v and k != "status"}
        if errors:
            problems.append(f"{self.scenario}: socket errors {errors}")
        if self.requests == 0:
            problems.append(f"{self.scenario}: no request completed")
        return problems

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "ok": self.ok,
            "bad": self.bad,
            "bad_codes": sorted(set(self.bad_codes)),
            "socket_errors": self.socket_errors,
            "cpu": self.cpu.as_json(self.requests) if self.cpu else None,
            **self.extra,
        }


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (make bench does it)")
    return path


def run(
    base_url: str,
    scenario: Scenario,
    load: Load,
    server_pids: list[int],
    database_pids: Callable[[], list[int]] = list,
) -> WrkResult:
    env = dict(os.environ)
    env["C42_WRK_METHOD"] = scenario.method
    env["C42_WRK_BODY"] = scenario.body or ""
    env["C42_WRK_HEADERS"] = _header_lines(scenario.headers)
    env["C42_WRK_HEADER_SETS"] = "\n\n".join(_header_lines(h) for h in scenario.header_sets)
    if scenario.per_thread:  # one connection per thread, each with its own request
        load = replace(load, threads=len(scenario.per_thread), connections=len(scenario.per_thread))
    command = [
        require_wrk(),
        "--latency",
        "-t",
        str(load.threads),
        "-c",
        str(load.connections),
        "-d",
        f"{load.duration:g}s",
        "--timeout",
        f"{load.timeout:g}s",
        "-s",
        str(SCRIPT),
        base_url + scenario.path,
    ]
    bodies_file = (
        _write_bodies(scenario, load, env)
        or _write_per_thread(scenario, env)
        or _write_once_headers(base_url, scenario, load, env)
    )
    meter = CpuMeter(server_pids, database_pids)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        cpu = meter.stop()
        if bodies_file is not None:
            bodies_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse(scenario.name, done.stdout)
    result.cpu = cpu
    return result


def _write_bodies(scenario: Scenario, load: Load, env: dict[str, str]) -> Path | None:
    """One-shot bodies (see `Scenario.bodies`) for this run, one per line, in a private file
    that bench/c42.lua reads; sized for the run at BODIES_PER_SECOND."""
    if scenario.bodies is None:
        return None
    bodies = scenario.bodies(int(load.duration * BODIES_PER_SECOND) + load.connections)
    path = BODIES_DIR / f"bodies-{scenario.name}-{os.getpid()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("\n".join(bodies) + "\n")
    env["C42_WRK_BODIES_FILE"] = str(path)
    env["C42_WRK_THREADS"] = str(load.threads)
    return path


def _write_per_thread(scenario: Scenario, env: dict[str, str]) -> Path | None:
    """`Scenario.per_thread` for bench/c42.lua: line k is thread k's request, its headers
    ("Name: value", tab-separated), a 0x1F byte, its body. Private: tokens are secrets."""
    if not scenario.per_thread:
        return None
    lines = [
        "\t".join(f"{n}: {v}" for n, v in headers.items()) + "\x1f" + body
        for headers, body in scenario.per_thread
    ]
    path = BODIES_DIR / f"threads-{scenario.name}-{os.getpid()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")
    env["C42_WRK_THREAD_REQUESTS_FILE"] = str(path)
    return path


def _write_once_headers(
    base_url: str, scenario: Scenario, load: Load, env: dict[str, str]
) -> Path | None:
    """`Scenario.once_headers` for this run (e.g. DPoP proofs, bench/dpop.py), one
    "Name: value" per line in a private file, sized for the run at BODIES_PER_SECOND for
    each wrk thread (bench/c42.lua deals the lines out in turn, and one thread may send
    much more than the others)."""
    if scenario.once_headers is None:
        return None
    count = (int(load.duration * BODIES_PER_SECOND) + load.connections) * load.threads
    path = BODIES_DIR / f"once-{scenario.name}-{os.getpid()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("\n".join(scenario.once_headers(base_url, count)) + "\n")
    env["C42_WRK_ONCE_HEADERS_FILE"] = str(path)
    env["C42_WRK_THREADS"] = str(load.threads)
    return path


def _header_lines(headers: Mapping[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def parse(name: str, output: str) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no {MARKER.strip()} line:\n{output}")
    data = json.loads(line[len(MARKER) :])
    seconds = data["duration_us"] / 1e6
    latency = {k: v / 1000 for k, v in data["latency_us"].items()}
    return WrkResult(
        scenario=name,
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        latency_ms=latency,
        ok=data["ok"],
        bad=data["bad"],
        bad_codes=[int(code) for code in data["bad_codes"].split()],
        socket_errors=data["errors"],
        output=output,
    )
