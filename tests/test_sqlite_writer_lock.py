"""The SQLite writers' queue (c42/sqlite_lock.py): real processes and threads on a real file."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from c42.db import Database
from c42.migrate import upgrade

WRITER = """
import sys
from sqlalchemy import text
from c42.db import Database
db = Database(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with db.session(write=True) as session:
        value = session.execute(text("SELECT value FROM sync_counter WHERE id = 1")).scalar_one()
        session.execute(text("UPDATE sync_counter SET value = :v WHERE id = 1"), {"v": value + 1})
"""


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'lock.sqlite3'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def _counter(db: Database) -> int:
    with db.session(write=False) as session:
        return int(session.execute(text("SELECT value FROM sync_counter WHERE id = 1")).scalar())


def test_processes_and_threads_write_one_at_a_time(sqlite_db: Database) -> None:
    # A read-modify-write that would lose updates if two writers overlapped.
    start = _counter(sqlite_db)
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, sqlite_db.url, "40"]) for _ in range(3)
    ]
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            for _ in range(20):
                with sqlite_db.session(write=True) as session:
                    query = text("SELECT value FROM sync_counter WHERE id = 1")
                    value = session.execute(query).scalar_one()
                    session.execute(
                        text("UPDATE sync_counter SET value = :v WHERE id = 1"), {"v": value + 1}
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0]
    assert errors == []
    assert _counter(sqlite_db) == start + 3 * 40 + 4 * 20
    lock = sqlite_db.writer_lock
    assert lock is not None and lock.owner is None  # released after the last commit


def test_a_reservation_never_waits_for_a_thread_of_its_own_process(sqlite_db: Database) -> None:
    lock = sqlite_db.writer_lock
    assert lock is not None
    inside = threading.Event()
    leave = threading.Event()

    def writer() -> None:
        with sqlite_db.session(write=True) as session:
            session.execute(text("UPDATE sync_counter SET value = value + 1 WHERE id = 1"))
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(10)
    assert lock.try_reserve() is False  # another thread of this process writes: no waiting
    leave.set()
    thread.join()
    assert lock.try_reserve() is True
    try:
        with sqlite_db.session(write=True) as session:  # uses the reservation
            session.execute(text("UPDATE sync_counter SET value = value + 1 WHERE id = 1"))
        assert lock.owner is None
    finally:
        lock.end_reservation()
    other = threading.Thread(target=writer)  # the lock is free again for other threads
    leave.clear()
    inside.clear()
    other.start()
    assert inside.wait(10)
    leave.set()
    other.join()


def test_a_failed_transaction_releases_the_lock(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.session(write=True) as session:
        session.execute(text("UPDATE sync_counter SET value = value + 1 WHERE id = 1"))
        raise RuntimeError("boom")
    lock = sqlite_db.writer_lock
    assert lock is not None and lock.owner is None
    assert lock.try_reserve() is True
    lock.end_reservation()
