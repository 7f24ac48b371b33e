"""Where the machine's CPU went during one load run, from /proc (Linux).

Two numbers make a run trustworthy on a shared 2-core machine: the server's CPU time per
request (stable even when something else runs: it is what the lead optimises) and the CPU
that neither the server nor wrk used ("other": a busy neighbour makes req/s meaningless).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuUse:
    wall_s: float
    server_s: float  # the uvicorn master and workers
    database_s: float  # the PostgreSQL backends serving them (SQLite runs inside the server)
    wrk_s: float
    other_s: float  # everything else on the machine
    capacity_s: float  # wall time x cores

    def as_json(self, requests: int) -> dict[str, float]:
        per_request = 1e6 / requests if requests else 0.0
        return {
            "server_s": round(self.server_s, 2),
            "database_s": round(self.database_s, 2),
            "wrk_s": round(self.wrk_s, 2),
            "other_s": round(self.other_s, 2),
            "other_pct": round(100 * self.other_s / self.capacity_s, 1) if self.capacity_s else 0,
            "server_us_per_request": round(self.server_s * per_request, 1),
            "database_us_per_request": round(self.database_s * per_request, 1),
        }


class CpuMeter:
    """Samples at start and stop. Database backends are listed at both ends (pools open and
    close connections during a run): a backend's CPU counts from its first sample, or its
    whole life if it started during the run; one that exited before the end is missed."""

    def __init__(self, server_pids: list[int], database_pids: Callable[[], list[int]]) -> None:
        self.server_pids = server_pids
        self.database_pids = database_pids
        self._start = self._sample()

    def _sample(self) -> tuple[float, int, int, dict[int, int], float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            time.monotonic(),
            _machine_busy(),
            sum(_process_ticks(pid) for pid in self.server_pids),
            {pid: _process_ticks(pid) for pid in self.database_pids()},
            children.ru_utime + children.ru_stime,
        )

    def stop(self) -> CpuUse:
        end = self._sample()
        wall = end[0] - self._start[0]
        busy = (end[1] - self._start[1]) / TICK
        server = (end[2] - self._start[2]) / TICK
        before = self._start[3]
        database = sum(max(t - before.get(pid, 0), 0) for pid, t in end[3].items()) / TICK
        wrk = end[4] - self._start[4]  # wrk has been waited for: its time is in our children's
        cores = len(os.sched_getaffinity(0))
        other = max(busy - server - database - wrk, 0.0)
        return CpuUse(wall, server, database, wrk, other, wall * cores)


def background_busy(seconds: float = 1.0) -> float:
    """Percent of the machine's CPU in use over `seconds` (call it while nothing of ours runs)."""
    started, busy = time.monotonic(), _machine_busy()
    time.sleep(seconds)
    wall = time.monotonic() - started
    return 100 * (_machine_busy() - busy) / TICK / (wall * len(os.sched_getaffinity(0)))


def _machine_busy() -> int:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_ticks(pid: int) -> int:
    try:
        return _ticks_of(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0


def _ticks_of(stat: str) -> int:
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": field 3 is fields[0]
    return int(fields[11]) + int(fields[12])  # utime, stime


def thread_ticks(pid: int) -> dict[int, int]:
    """CPU ticks of each thread of a process (the main thread has tid == pid)."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            ticks[int(task.name)] = _ticks_of((task / "stat").read_text())
        except (OSError, ValueError):
            continue
    return ticks


def split_threads(pid: int, before: dict[int, int], after: dict[int, int]) -> tuple[float, float]:
    """Seconds of CPU between two `thread_ticks` samples: (main thread, all other threads)."""
    main = (after.get(pid, 0) - before.get(pid, 0)) / TICK
    others = sum(t - before.get(tid, 0) for tid, t in after.items() if tid != pid) / TICK
    return main, others
