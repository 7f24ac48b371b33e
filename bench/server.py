"""The server under test, started as in production: `c42 serve --workers N` in a subprocess."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

C42 = Path(sys.executable).parent / "c42"


@dataclass(frozen=True, slots=True)
class WorkerMemory:
    pid: int
    hwm_mb: float  # VmHWM: peak resident set size
    rss_mb: float  # VmRSS: now, the sum of the three below
    anon_mb: float = 0.0  # RssAnon: private memory (heap, stacks)
    file_mb: float = 0.0  # RssFile: mapped files: code, and SQLite's mmap of the database
    shmem_mb: float = 0.0  # RssShmem: shared memory (SQLite's WAL index)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A server started as a subprocess on a free loopback port, with `workers` worker
    processes; a context manager that always stops it. Subclasses say how to start it
    (`command`, `environment`), when it is ready (`answers`) and how it stops (`STOP`)."""

    STOP = signal.SIGTERM  # the master's graceful shutdown of all its workers
    NAME = "server"

    def __init__(self, workers: int, log_path: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def answers(self) -> bool:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.NAME} exited early; see {self.log_path}")
            # Every worker must be up, not only the first one to bind.
            if len(self.worker_pids()) >= self.workers and self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.NAME} not answering after {timeout}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return [] if self.process is None else sorted(_children(self.process.pid))

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(self.STOP)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for pid in workers:  # only our own workers, by id, if the master left any behind
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


class Server(ServerProcess):
    """`c42 serve --workers N`, as in production."""

    STOP = signal.SIGINT  # uvicorn's graceful shutdown of all workers

    def __init__(self, database_url: str, workers: int, log_path: Path) -> None:
        super().__init__(workers, log_path)
        self.database_url = database_url

    def command(self) -> list[str]:
        serve = [str(C42), "serve", "--workers", str(self.workers), "--port", str(self.port)]
        return [*serve, "--no-access-log"]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(
            C42_DATABASE_URL=self.database_url,
            # Per run; nothing signed survives it. bench/oauth.py picks it when it must key
            # the bench app's client-secret digest with it.
            C42_SECRET_KEY=os.environ.get("C42_BENCH_SECRET_KEY") or secrets.token_urlsafe(32),
            # The token endpoint's limiter still counts every request (its cost is measured)
            # but does not refuse the load generator's one address.
            C42_RATE_LIMIT_TOKEN="1000000000/60",  # noqa: S106 (a rate, not a secret)
            C42_ACCESS_LOG="false",
        )
        return env

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def worker_pids(self) -> list[int]:
        """The uvicorn workers: children of the master that run the app (not helpers such as
        multiprocessing's resource tracker)."""
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid]  # uvicorn serves in the one process, no supervisor
        pids = []
        for child in _children(self.process.pid):
            cmdline = _read(f"/proc/{child}/cmdline").replace("\0", " ")
            if "resource_tracker" not in cmdline:
                pids.append(child)
        return sorted(pids)

    def memory(self) -> list[WorkerMemory]:
        result = []
        for pid in self.worker_pids():
            fields = _status_fields(pid)
            mb = {name: value / 1024 for name, value in fields.items()}
            result.append(
                WorkerMemory(
                    pid,
                    mb.get("VmHWM", 0),
                    mb.get("VmRSS", 0),
                    mb.get("RssAnon", 0),
                    mb.get("RssFile", 0),
                    mb.get("RssShmem", 0),
                )
            )
        return result


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children += [int(c) for c in _read(str(task / "children")).split()]
    return children


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _status_fields(pid: int) -> dict[str, int]:
    """VmHWM, VmRSS ... of /proc/<pid>/status, in KiB."""
    fields = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0])
    return fields
