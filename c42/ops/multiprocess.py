"""Metrics of several worker processes (prometheus_client's multiprocess mode).

Each worker keeps its values in memory-mapped files under `PROMETHEUS_MULTIPROC_DIR`, which must
be set before prometheus_client is first imported and must start empty. `c42 serve --workers N`
(N > 1) makes a private directory for the run when the variable is unset and removes it on exit;
an operator's own directory is emptied of metric files at start. A scrape, served by whichever
worker takes it, adds every worker's files up; counters of a worker that died stay in the totals,
while its gauges ("live" modes) and process figures are dropped.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

ENV = "PROMETHEUS_MULTIPROC_DIR"
_METRIC_FILE = re.compile(r"(counter|gauge_\w+|histogram|summary)_\d+\.db")
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def prepare(workers: int) -> None:
    """Before the workers start: a metrics directory when several processes will serve."""
    directory = os.environ.get(ENV)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for item in path.iterdir():  # the files of an earlier run
            if _METRIC_FILE.fullmatch(item.name):
                item.unlink()
        return
    if workers > 1:
        directory = tempfile.mkdtemp(prefix="c42-metrics-")
        os.environ[ENV] = directory  # inherited by every worker process
        atexit.register(shutil.rmtree, directory, ignore_errors=True)


def enabled() -> bool:
    """Whether this process records into shared files (decided when prometheus_client was
    first imported, from the environment then)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def live_workers(directory: str) -> list[int]:
    """The processes that keep live gauges here and still run; the files of those that died
    (killed, crashed) are dropped (prometheus_client's mark_process_dead)."""
    pids = set()
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.fullmatch(name)
        if match:
            pids.add(int(match.group(1)))
    alive = []
    for pid in sorted(pids):
        if _running(pid):
            alive.append(pid)
        else:
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]  # prometheus_client: unannotated
    return alive


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


class WorkerProcesses(Collector):
    """The standard process_* figures of each worker process, labelled by `pid`, and the count
    of workers (`c42_worker_processes`)."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for pid in self.pids:
            for family in ProcessCollector(pid=_constant(pid), registry=None).collect():
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from families.values()
        yield GaugeMetricFamily(
            "c42_worker_processes", "Worker processes running.", value=len(self.pids)
        )
