"""Private services for the deployment tests (SPEC §7): a PostgreSQL cluster and a redis-server
that a test may stop and start, and real `c42 serve` processes.

They never touch the shared PostgreSQL (5432) or Redis (6379): each service runs from a temp
dir on a free loopback port. PostgreSQL refuses to run as root, so as root the cluster runs as
the `postgres` OS user. These tests bring their own PostgreSQL whatever
`C42_TEST_DATABASE_URL` says, so they run once: in the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from c42.migrate import upgrade

needs_postgres_pass = pytest.mark.skipif(
    not os.environ.get("C42_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="runs in the PostgreSQL pass (make test-postgres): brings its own PostgreSQL + Redis",
)
SECRET_KEY = "deployment-test-secret-key-" + "k" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class PrivatePostgres:
    """`initdb` into a temp dir, `pg_ctl start|stop` on a free port, trust authentication."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = bin_dir
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: cannot start a private cluster")
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user for the cluster")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="c42-private-pg-"))
        if self.run_as:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self._pg(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8"
        )

    def _pg(self, program: str, *args: str) -> None:
        command = [*self.run_as, str(self.bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            # No fsync: an immediate stop is a crash of the server, not of the machine, so
            # what was committed survives (synchronous_commit stays on for that reason).
            " -c fsync=off -c full_page_writes=off"
        )
        log = str(self.root / "server.log")
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Immediate stop: every connection is cut as by a crash; nothing uncommitted stays."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """For psycopg itself."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def migrated_database(self, name: str) -> str:
        """A new database built by our migrations; its URL."""
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = self.url(name)
        upgrade(url)
        return url

    def destroy(self) -> None:
        if self.is_running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """`redis-server` without persistence on a free port; stop and start keep the port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.binary is not None
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _accepts(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash would: connections are cut
            self.process.wait(timeout=10)
            self.process = None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class ServeProcess:
    """A real `c42 serve` (one worker) on a free port, its output kept in a file."""

    def __init__(self, name: str, env: Mapping[str, str], workdir: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        command = [str(Path(sys.executable).with_name("c42")), "serve", "--port", str(self.port)]
        self._output = self.log.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, **env},
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"c42 serve exited:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"c42 serve did not answer:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._output.close()


def serve_env(database_url: str, redis_url: str, workdir: Path, issuer: str) -> dict[str, str]:
    return {
        "C42_DATABASE_URL": database_url,
        "C42_REDIS_URL": redis_url,
        "C42_SECRET_KEY": SECRET_KEY,  # one key: a browser session works on every process
        "C42_ISSUER": issuer,  # one public address in front of all processes
        "C42_OUTBOX_DIR": str(workdir / "outbox"),
        "C42_TOKEN_CACHE_SECONDS": "1",
        "C42_RATE_LIMIT_LOGIN": "4/3600",
        "C42_PURGE_INTERVAL": "0",
    }
