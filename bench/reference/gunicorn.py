"""A reference WSGI project served by gunicorn (sync workers, the standard Django deployment)
on a free loopback port; a context manager that always stops it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bench.server import ServerProcess


class Gunicorn(ServerProcess):
    NAME = "gunicorn"  # stops on SIGTERM, the base class's signal

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
        super().__init__(workers, log_path)
        self.venv = venv
        self.app_dir = app_dir
        self.wsgi_app = wsgi_app
        self.env = dict(env)
        self.ready_path = ready_path

    def command(self) -> list[str]:
        return [
            str(self.venv / "bin" / "gunicorn"),
            "--chdir",
            str(self.app_dir),
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",  # no access log: gunicorn writes one only when given --access-logfile
            "--no-control-socket",  # else one shared socket under $HOME for every gunicorn
            self.wsgi_app,
        ]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), **self.env}

    def answers(self) -> bool:
        """Any HTTP answer will do (GET on the token endpoint is a 405)."""
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

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
