"""Real `c42` processes for the production tests: a database of their own (a SQLite file, or a
fresh schema of the PostgreSQL test database), `c42 serve` started and stopped like a service
manager does it, and free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from c42.settings import Settings

SECRET_KEY = "ops-test-secret-" + "s" * 32


def console_script() -> str:
    found = Path(sys.executable).parent / "c42"
    if found.exists():
        return str(found)
    on_path = shutil.which("c42")
    assert on_path, "the c42 console script is not installed"
    return on_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def own_database(root: Path) -> Iterator[str]:
    """The URL of an empty database for this test alone: `root`/c42.sqlite3, or with
    C42_TEST_DATABASE_URL a new schema of that PostgreSQL database (dropped afterwards)."""
    base = os.environ.get("C42_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{root / 'c42.sqlite3'}"
        return
    schema = f"ops_{uuid.uuid4().hex[:12]}"
    engine = create_engine(Settings(database_url=base).database_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def environment(root: Path, url: str, **variables: str) -> dict[str, str]:
    """The environment of a `c42` process on `url`, run in `root` (its ./var/)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("C42_") and name != "FORWARDED_ALLOW_IPS"
    }
    env.update(
        C42_DATABASE_URL=url,
        C42_SECRET_KEY=SECRET_KEY,
        C42_OUTBOX_DIR=str(root / "outbox"),
        C42_PURGE_INTERVAL="0",
    )
    env.update(variables)
    return env


def run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )


class Served:
    """`c42 serve ARGS` as a process; its stdout and stderr go to a file (`output()`)."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"serve-{self.port}.log"
        command = [console_script(), "serve", "--port", str(self.port), *args]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                command, env=env, cwd=root, stdout=sink, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, f"c42 serve exited: {self.output()}"
            assert time.monotonic() < deadline, f"c42 serve did not start: {self.output()}"
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@contextmanager
def serving(root: Path, env: dict[str, str], *args: str) -> Iterator[Served]:
    served = Served(root, env, *args)
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()
