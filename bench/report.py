"""What a benchmark run found: the machine, a table, the targets, and results.json."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import writes
from bench.scenarios import BASELINE
from bench.server import WorkerMemory
from bench.wrk import WrkResult

MEMORY_LIMIT_MB = 150.0
SCALE_P99_TARGET = 1.5  # p99 at N x users within 1.5x of p99 at 1x


@dataclass(slots=True)
class TargetRun:
    """All measurements of one database at one scale."""

    database: str
    scale: int
    url: str
    seed: dict[str, Any]
    server_version: str
    rounds: dict[str, list[WrkResult]] = field(default_factory=dict)
    target_ratios: dict[str, float | None] = field(default_factory=dict)
    workers: list[WorkerMemory] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    background_cpu_pct: float = 0.0  # machine busy before the server started

    def median(self, scenario: str, key: str) -> float:
        values = [_value(r, key) for r in self.rounds.get(scenario, [])]
        return statistics.median(values) if values else float("nan")

    def ratio(self, scenario: str) -> float | None:
        """Median over rounds of (req/s of scenario / req/s of the baseline in that round)."""
        base, runs = self.rounds.get(BASELINE, []), self.rounds.get(scenario, [])
        pairs = [r.rps / b.rps for r, b in zip(runs, base, strict=False) if b.rps]
        return statistics.median(pairs) if pairs else None

    def as_json(self) -> dict[str, Any]:
        scenarios = {}
        for name, results in self.rounds.items():
            scenarios[name] = {
                "rps": round(self.median(name, "rps"), 1),
                "p50_ms": round(self.median(name, "p50"), 3),
                "p99_ms": round(self.median(name, "p99"), 3),
                "server_cpu_us_per_request": round(self.median(name, "cpu_us"), 1),
                "database_cpu_us_per_request": round(self.median(name, "db_us"), 1),
                "ratio_to_health": _round(self.ratio(name)),
                "target_ratio": self.target_ratios.get(name),
                "rounds": [r.summary() for r in results],
            }
        return {
            "database": self.database,
            "scale": self.scale,
            "url": self.url,
            "server_version": self.server_version,
            "background_cpu_pct": round(self.background_cpu_pct, 1),
            "seed": self.seed,
            "scenarios": scenarios,
            "workers": [
                {
                    "pid": w.pid,
                    "peak_mb": round(w.hwm_mb, 1),
                    "rss_mb": round(w.rss_mb, 1),
                    "anon_mb": round(w.anon_mb, 1),
                    "file_mb": round(w.file_mb, 1),
                    "shmem_mb": round(w.shmem_mb, 1),
                }
                for w in self.workers
            ],
            "failures": self.failures,
        }


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {p: _version(p) for p in ("fastapi", "starlette", "uvicorn", "sqlalchemy")},
        "wrk": _run(["wrk", "--version"]).splitlines()[0] if _run(["wrk", "--version"]) else "",
        "git": _run(["git", "describe", "--always", "--dirty"]).strip(),
    }


def scale_comparison(runs: list[TargetRun]) -> list[dict[str, Any]]:
    """p99 of each authenticated scenario at the larger scale against the same at x1."""
    rows = []
    for small in (r for r in runs if r.scale == 1):
        for big in (r for r in runs if r.database == small.database and r.scale > 1):
            for name in small.rounds:
                if name == BASELINE or name not in big.rounds:
                    continue
                p99_small, p99_big = small.median(name, "p99"), big.median(name, "p99")
                factor = p99_big / p99_small if p99_small else float("inf")
                rows.append(
                    {
                        "database": small.database,
                        "scenario": name,
                        "scale": big.scale,
                        "p99_x1_ms": round(p99_small, 3),
                        "p99_big_ms": round(p99_big, 3),
                        "factor": round(factor, 3),
                        "target": SCALE_P99_TARGET,
                        "met": factor <= SCALE_P99_TARGET,
                    }
                )
    return rows


def table(runs: list[TargetRun]) -> str:
    header = (
        f"{'database':<11}{'scale':>6}  {'scenario':<22}{'req/s':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'CPU us/req':>11}{'+db':>6}{'ratio':>8}  target"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        for name in run.rounds:
            ratio = run.ratio(name)
            target = run.target_ratios.get(name)
            verdict = ""
            if target is not None and ratio is not None:
                verdict = f">= {target:.2f} {'met' if ratio >= target else 'NOT MET'}"
            lines.append(
                f"{run.database:<11}{'x' + str(run.scale):>6}  {name:<22}"
                f"{run.median(name, 'rps'):>9.0f}{run.median(name, 'p50'):>9.2f}"
                f"{run.median(name, 'p99'):>9.2f}{run.median(name, 'cpu_us'):>11.0f}"
                f"{run.median(name, 'db_us'):>6.0f}"
                f"{_fmt(ratio):>8}  {verdict}"
            )
    lines.append("")
    for run in runs:
        peaks = ", ".join(f"{w.hwm_mb:.1f}" for w in run.workers) or "?"
        within = all(w.hwm_mb < MEMORY_LIMIT_MB for w in run.workers) and bool(run.workers)
        now = "; ".join(
            f"{w.anon_mb:.0f} private + {w.file_mb:.0f} mapped files + {w.shmem_mb:.0f} shm"
            for w in run.workers
        )
        lines.append(
            f"worker peak memory (VmHWM) {run.database} x{run.scale}: {peaks} MB"
            f" (limit {MEMORY_LIMIT_MB:.0f}) {'ok' if within else 'OVER LIMIT'}; now: {now} MB"
        )
    lines += writes.verdicts(runs)
    for row in scale_comparison(runs):
        lines.append(
            f"p99 {row['database']} {row['scenario']}: x1 {row['p99_x1_ms']:.2f} ms -> "
            f"x{row['scale']} {row['p99_big_ms']:.2f} ms = {row['factor']:.2f}x "
            f"(target <= {row['target']}) {'met' if row['met'] else 'NOT MET'}"
        )
    return "\n".join(lines)


def memory_failures(runs: list[TargetRun]) -> list[str]:
    problems = []
    for run in runs:
        if not run.workers:
            problems.append(f"{run.database} x{run.scale}: no worker memory measured")
        for w in run.workers:
            if w.hwm_mb >= MEMORY_LIMIT_MB:
                problems.append(
                    f"{run.database} x{run.scale}: worker {w.pid} peaked at {w.hwm_mb:.1f} MB"
                )
    return problems


def write(
    path: Path, runs: list[TargetRun], config: dict[str, Any], failures: list[str]
) -> dict[str, Any]:
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": config,
        "runs": [run.as_json() for run in runs],
        "scale_comparison": scale_comparison(runs),
        "failures": failures,
        "ok": not failures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    with path.with_name("history.jsonl").open("a") as history:  # one line per run, to compare
        history.write(json.dumps(document) + "\n")
    return document


def _value(result: WrkResult, key: str) -> float:
    if key == "rps":
        return result.rps
    if key in ("cpu_us", "db_us"):
        if not result.cpu or not result.requests:
            return 0.0
        seconds = result.cpu.server_s if key == "cpu_us" else result.cpu.database_s
        return 1e6 * seconds / result.requests
    return result.latency_ms[key]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout or done.stderr


def markdown(document: dict[str, Any]) -> str:
    """results.json as the Markdown table of bench/RESULTS.md."""
    lines = [
        "| database | scale | scenario | req/s | p50 ms | p99 ms | server CPU us/req "
        "| db CPU us/req | ratio to health | others' CPU |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in document["runs"]:
        for name, s in run["scenarios"].items():
            others = [r["cpu"]["other_pct"] for r in s["rounds"] if r.get("cpu")]
            ratio = s["ratio_to_health"]
            target = s.get("target_ratio")
            verdict = (
                ""
                if target is None or ratio is None
                else (f" ({'meets' if ratio >= target else 'below'} {target})")
            )
            lines.append(
                f"| {run['database']} | x{run['scale']} | {name} | {s['rps']:.0f} "
                f"| {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['server_cpu_us_per_request']:.0f} "
                f"| {s.get('database_cpu_us_per_request', 0):.0f} "
                f"| {'' if ratio is None else f'{ratio:.3f}'}{verdict} "
                f"| {statistics.median(others) if others else 0:.0f}% |"
            )
    lines.append("")
    for run in document["runs"]:
        peaks = ", ".join(
            f"{w['peak_mb']:.1f} (now {w.get('anon_mb', 0):.0f} private"
            f" + {w.get('file_mb', 0):.0f} mapped files)"
            for w in run["workers"]
        )
        lines.append(f"- worker peak memory (VmHWM), {run['database']} x{run['scale']}: {peaks} MB")
    for row in document.get("scale_comparison", []):
        lines.append(
            f"- p99 {row['database']} {row['scenario']}: x1 {row['p99_x1_ms']:.1f} ms, "
            f"x{row['scale']} {row['p99_big_ms']:.1f} ms: {row['factor']:.2f}x "
            f"(target <= {row['target']}: {'met' if row['met'] else 'NOT met'})"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m bench.report [var/bench/results.json]
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "var/bench/results.json")
    print(markdown(json.loads(source.read_text())))
