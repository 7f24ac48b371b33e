"""Sync exactness under concurrent writers (issue 12, SPEC §4), over HTTP against a real
`c42 serve --workers 2` on the test database: writers in parallel (each in its own calendar,
plus one calendar they all write to, shared with the reader while they do) create, change
and delete events; a reader syncs over and over, following `meta_data.sync_token`, and keeps
a mirror. At the end the mirror equals what the reader can read (no change missed), and every
state the reader was shown is one a writer committed (none invented). The read model is then
checked whole by tests/conftest.py. On PostgreSQL writers take no global lock (c42.sync,
c42.access.readable); on SQLite they queue for the one write lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from c42.settings import Settings
from tests.factories import Factory, Person, calendar, share_calendar
from tests.ops.processes import free_port

EVENTS = "/api/v2/events/"
WRITERS = 6
ROUNDS = 10  # per writer: create in its calendar, create in the common one, change, delete
DEADLINE_SECONDS = 25


@pytest.fixture(scope="module")
def served(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`c42 serve --workers 2` on the test database: its URL."""
    root = tmp_path_factory.mktemp("sync-concurrency")
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
        "C42_OUTBOX_DIR": str(root / "outbox"),
        "TMPDIR": str(root),
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "C42_ISSUER", "C42_TEST_DATABASE_URL"):
        env.pop(name, None)
    port = free_port()
    log = root / "serve.log"
    command = [str(Path(sys.executable).parent / "c42"), "serve", "--workers", "2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, cwd=root, stdout=sink, stderr=sink
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while log.read_text(errors="replace").count("Application startup complete") < 2:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "c42 serve did not start its workers"
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, verify=False)  # noqa: S501 (loopback http)


def _sync(http: httpx.Client, reader: Person, token: int) -> tuple[list[dict[str, Any]], int]:
    """Every change after `token`, all pages in the order read, and the first page's token."""
    changes: list[dict[str, Any]] = []
    offset, first = 0, None
    while True:
        response = http.get(
            EVENTS,
            params={"sync_token": token, "limit": 100, "offset": offset},
            headers=reader.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        first = int(body["meta_data"]["sync_token"]) if first is None else first
        changes.extend(body["data"])
        offset += len(body["data"])
        if not body["data"] or offset >= body["meta_data"]["count"]:
            return changes, first


def _everything(http: httpx.Client, reader: Person) -> dict[str, str]:
    """What the reader can read now (no sync token): id -> title."""
    found: dict[str, str] = {}
    offset = 0
    while True:
        response = http.get(EVENTS, params={"limit": 100, "offset": offset}, headers=reader.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        found.update({e["id"]: e["title"] for e in data})
        offset += len(data)
        if not data:
            return found


class Ledger:
    """What the writers did: every title each event had (before they asked, so a reader's
    view never runs ahead of it), the live ones' last titles, the deleted ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.titles: dict[str, set[str]] = {}
        self.live: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.errors: list[str] = []

    def created(self, event_id: str, title: str) -> None:
        with self.lock:
            self.titles.setdefault(event_id, set()).add(title)
            self.live[event_id] = title


def _writer(
    url: str, me: Person, mine: str, common: str, w: int, ledger: Ledger, go: threading.Event
) -> None:
    with _client(url) as http:
        go.wait(30)
        own: list[str] = []
        for i in range(ROUNDS):
            for where in (mine, common):
                title = f"w{w}-{i}-{'own' if where == mine else 'common'}"
                body = {"event_type": "todo", "title": title, "calendar_ids": [where]}
                r = http.post(EVENTS, json=body, headers=me.headers)
                if r.status_code != 201:
                    ledger.errors.append(f"create {r.status_code} {r.text[:200]}")
                    return
                own.append(r.json()["data"][0]["id"])
                ledger.created(own[-1], title)
            target = own[(i * 7) % len(own)]
            if target in ledger.deleted:
                continue
            title = f"w{w}-{i}-changed"
            with ledger.lock:
                ledger.titles[target].add(title)
            r = http.patch(f"{EVENTS}{target}/", json={"title": title}, headers=me.headers)
            if r.status_code != 200:
                ledger.errors.append(f"change {r.status_code} {r.text[:200]}")
                return
            with ledger.lock:
                ledger.live[target] = title
            if i % 3 == 2:  # delete an older one of ours
                victim = own[i // 3]
                if victim not in ledger.deleted:
                    r = http.delete(f"{EVENTS}{victim}/", headers=me.headers)
                    if r.status_code != 204:
                        ledger.errors.append(f"delete {r.status_code} {r.text[:200]}")
                        return
                    with ledger.lock:
                        ledger.deleted.add(victim)
                        ledger.live.pop(victim, None)


def test_a_syncing_reader_sees_every_change_of_concurrent_writers_exactly(
    served: str, factory: Factory
) -> None:
    started = time.monotonic()
    owner, reader = factory.user(prefix="owner"), factory.user(prefix="reader")
    writers = [factory.user(prefix=f"writer{w}") for w in range(WRITERS)]
    ledger = Ledger()
    with _client(served) as http:
        common = calendar(http, owner, "Common")["id"]
        calendars = []
        for person in writers:
            calendars.append(calendar(http, person, "Mine")["id"])
            share_calendar(http, person, calendars[-1], reader, "invited_read")
            share_calendar(http, owner, common, person, "invited_write")
        go = threading.Event()
        threads = [
            threading.Thread(
                target=_writer, args=(served, p, calendars[w], common, w, ledger, go), daemon=True
            )
            for w, p in enumerate(writers)
        ]
        for t in threads:
            t.start()
        go.set()
        mirror: dict[str, str] = {}
        shown: list[tuple[str, str | None]] = []  # (id, title or None for a deletion)
        token, syncs, shared = 0, 0, False
        while True:
            finished = not any(t.is_alive() for t in threads)
            if not shared and len(ledger.live) >= WRITERS * 4:
                # The common calendar becomes readable while events are being added to it:
                # the share's refresh and theirs race for the same (reader, event) rows.
                share_calendar(http, owner, common, reader, "invited_read")
                shared = True
            changes, token = _sync(http, reader, token)
            syncs += 1
            for change in changes:
                if set(change) == {"id", "permission"}:
                    mirror.pop(change["id"], None)
                    shown.append((change["id"], None))
                else:
                    mirror[change["id"]] = change["title"]
                    shown.append((change["id"], change["title"]))
            if finished:
                break  # this sync began after the last write had been answered
            assert time.monotonic() - started < DEADLINE_SECONDS, "writers too slow"
        for t in threads:
            t.join(5)
        assert shared
        assert not ledger.errors, ledger.errors[:3]
        readable_now = _everything(http, reader)
    # Nothing missed: the mirror is what the reader can read, and that is what was written.
    assert readable_now == ledger.live
    missing = set(ledger.live) - set(mirror)
    assert not missing, f"{len(missing)} events never reached the reader in {syncs} syncs"
    stale = {i: (mirror.get(i), t) for i, t in ledger.live.items() if mirror.get(i) != t}
    assert not stale, stale
    assert mirror == ledger.live
    # Nothing invented: every state shown was written, every deletion happened.
    invented = [
        (i, t)
        for i, t in shown
        if (t is None and i not in ledger.deleted) or (t is not None and t not in ledger.titles[i])
    ]
    assert not invented, invented[:5]
    assert syncs > 3, "the reader synced while the writers wrote"
    assert time.monotonic() - started < DEADLINE_SECONDS + 5
