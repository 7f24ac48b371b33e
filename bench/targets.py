"""The databases a benchmark runs on: a fresh SQLite file under var/bench/, and PostgreSQL when
`C42_BENCH_DATABASE_URL` names one. Each target can be reset to an empty database."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from c42.settings import Settings

BENCH_DIR = Path("var/bench")
PG_ENV = "C42_BENCH_DATABASE_URL"
APPLICATION_NAME = "c42-bench-server"  # marks the server's PostgreSQL connections


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy URL, as the app normalises it
    scale: int

    @property
    def label(self) -> str:
        return f"{self.kind} x{self.scale}"

    @property
    def slug(self) -> str:
        return f"{self.kind}-x{self.scale}"

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def server_url(self) -> str:
        """The URL the server gets: on PostgreSQL its connections carry an application name,
        so `backend_pids` can tell the backends that serve it from any other."""
        if self.kind == "sqlite":
            return self.url
        url = make_url(self.url).update_query_dict({"application_name": APPLICATION_NAME})
        return url.render_as_string(hide_password=False)

    def sessions_opened(self) -> int | None:
        """PostgreSQL's count of connections ever opened to this database (None on SQLite)."""
        if self.kind == "sqlite":
            return None
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                return int(connection.execute(text(query)).scalar() or 0)
        finally:
            engine.dispose()

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends connected to the server (none on SQLite)."""
        if self.kind == "sqlite":
            return []
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": APPLICATION_NAME},
                )
                return sorted(int(pid) for (pid,) in rows)
        finally:
            engine.dispose()


def sqlite_target(scale: int) -> Target:
    path = BENCH_DIR / f"c42-bench-x{scale}.sqlite3"
    return Target("sqlite", f"sqlite:///{path}", scale)


def postgres_target(base_url: str, scale: int) -> Target:
    url = make_url(Settings(database_url=base_url).database_url)
    if scale != 1:  # each scale keeps its own database, so both can be reused
        url = url.set(database=f"{url.database}_x{scale}")
    return Target("postgresql", url.render_as_string(hide_password=False), scale)


def targets(kinds: list[str], scales: list[int]) -> list[Target]:
    chosen: list[Target] = []
    for kind in kinds:
        for scale in scales:
            if kind == "sqlite":
                chosen.append(sqlite_target(scale))
            elif kind == "postgresql":
                base = os.environ.get(PG_ENV)
                if not base:
                    raise SystemExit(f"PostgreSQL asked for but {PG_ENV} is not set")
                chosen.append(postgres_target(base, scale))
            else:
                raise SystemExit(f"unknown database kind {kind!r}")
    return chosen


def reset(target: Target) -> None:
    """Leave an empty database behind: delete the SQLite file, or recreate PostgreSQL's
    `public` schema (creating the database first when it is missing)."""
    if target.kind == "sqlite":
        path = Path(make_url(target.url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    _create_database_if_missing(target.url)
    engine = create_engine(target.url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _create_database_if_missing(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            return
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    finally:
        engine.dispose()
    parsed = make_url(url)
    command = ["createdb"]
    if parsed.host:
        command += ["-h", parsed.host]
    if parsed.port:
        command += ["-p", str(parsed.port)]
    if parsed.username:
        command += ["-U", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    if shutil.which("createdb") is None:
        raise SystemExit(f"database {parsed.database} is missing and createdb is not installed")
    print(f"  createdb {parsed.database}", flush=True)
    subprocess.run([*command, str(parsed.database)], check=True, env=env)
