"""A reference WSGI project served by gunicorn (sync workers, the standard Django deployment)
on a free loopback port; a context manager that always stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bench.server import free_port


class Gunicorn:
    def __init__(
        self,
        venv: Path,
        app_dir: Path,
        wsgi_app: str,
        workers: int,
        env: Mapping[str, str],
        log_path: Path,
        ready_path: str = "/",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            str(venv / "bin" / "gunicorn"),
            "--chdir",
            str(app_dir),
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",  # no access log: gunicorn writes one only when given --access-logfile
            "--no-control-socket",  # else one shared socket under $HOME for every gunicorn
            wsgi_app,
        ]
        self.workers = workers
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
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
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
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
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            if len(self.worker_pids()) >= self.workers and self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not answering after {timeout}s; see {self.log_path}")

    def _answers(self) -> bool:
        """Any HTTP answer will do (GET on the token endpoint is a 405)."""
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            children += [int(pid) for pid in _read(task / "children").split()]
        return sorted(children)

    def wait_idle(self, timeout: float = 120, step: float = 0.5) -> bool:
        """Wait until the workers stop using the CPU. Sync workers go on serving the requests
        still queued on the socket when wrk stopped (a slow endpoint leaves one per
        connection), and the next run must not start under them. False on timeout."""
        pids = self.worker_pids()
        deadline = time.monotonic() + timeout
        before = sum(_ticks(pid) for pid in pids)
        while time.monotonic() < deadline:
            time.sleep(step)
            now = sum(_ticks(pid) for pid in pids)
            if now - before <= 1:  # one clock tick (10 ms): the sync workers' heartbeat
                return True
            before = now
        return False

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for pid in workers:  # only our own workers, by id, if the master left any behind
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    stat = _read(Path(f"/proc/{pid}/stat"))
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)"
    return int(fields[11]) + int(fields[12]) if len(fields) > 12 else 0
