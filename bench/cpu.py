"""Where the machine's CPU went during one load run, from /proc (Linux).

Two numbers make a run trustworthy on a shared 2-core machine: the server's CPU time per
request (stable even when something else runs: it is what the lead optimises) and the CPU
that neither the server nor wrk used ("other": a busy neighbour makes req/s meaningless).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuUse:
    wall_s: float
    server_s: float  # the uvicorn master and workers
    wrk_s: float
    other_s: float  # everything else on the machine
    capacity_s: float  # wall time x cores

    def as_json(self, requests: int) -> dict[str, float]:
        return {
            "server_s": round(self.server_s, 2),
            "wrk_s": round(self.wrk_s, 2),
            "other_s": round(self.other_s, 2),
            "other_pct": round(100 * self.other_s / self.capacity_s, 1) if self.capacity_s else 0,
            "server_us_per_request": round(1e6 * self.server_s / requests, 1) if requests else 0,
        }


class CpuMeter:
    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._start = self._sample()

    def _sample(self) -> tuple[float, int, int, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            time.monotonic(),
            _machine_busy(),
            sum(_process_ticks(pid) for pid in self.pids),
            children.ru_utime + children.ru_stime,
        )

    def stop(self) -> CpuUse:
        end = self._sample()
        wall = end[0] - self._start[0]
        busy = (end[1] - self._start[1]) / TICK
        server = (end[2] - self._start[2]) / TICK
        wrk = end[3] - self._start[3]  # wrk has been waited for: its time is in our children's
        cores = len(os.sched_getaffinity(0))
        return CpuUse(wall, server, wrk, max(busy - server - wrk, 0.0), wall * cores)


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
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": field 3 is fields[0]
    return int(fields[11]) + int(fields[12])  # utime, stime
