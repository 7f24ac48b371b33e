"""`c42 serve --workers 2` as a real process, with C42_LOG_FORMAT=json (SPEC §7): requests
reach both workers and /metrics, whichever worker answers it, adds both up; a killed worker's
counts stay while its gauges go; every log line is JSON with a timestamp and request id, and
none holds a token, code, secret, password or cookie; the private metrics directory is removed
on exit."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.pool import QueuePool

from c42.cli import serve
from c42.db import Database
from c42.settings import Settings
from tests.factories import Factory, Person
from tests.oauth.helpers import exchange, make_app, new_browser, person_with_password, refresh
from tests.ops.helpers import Scrape, eventually, scrape
from tests.web.helpers import browser, log_in

EVENTS = "/api/v2/events/"
REQUESTS = "c42_http_requests_total"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    tmp: Path
    sent: dict[str, int] = field(default_factory=dict)  # what the tests sent, for later ones

    def entries(self) -> list[dict[str, Any]]:
        """Every line the server wrote to stderr, each a JSON object."""
        lines = self.log.read_text(encoding="utf-8").split("\n")[:-1]  # the last one may be half
        return [json.loads(line) for line in lines]

    def worker_pids(self) -> set[int]:
        return {e["pid"] for e in self.entries() if e["event"] == "request"}

    def started_workers(self) -> set[int]:
        started = "Application startup complete."
        return {e["pid"] for e in self.entries() if e.get("message") == started}


@pytest.fixture(scope="module")
def workers(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve-workers")
    tmp = root / "tmp"
    tmp.mkdir()
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
        "C42_OUTBOX_DIR": str(root / "outbox"),
        "C42_LOG_FORMAT": "json",
        "C42_RATE_LIMIT_LOGIN": "100000/60",
        "C42_RATE_LIMIT_TOKEN": "100000/60",
        "TMPDIR": str(tmp),  # where `c42 serve` makes its metrics directory
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "C42_ISSUER", "C42_TEST_DATABASE_URL"):
        env.pop(name, None)
    port = _free_port()
    log = root / "stderr.log"
    command = [str(Path(sys.executable).parent / "c42"), "serve", "--workers", "2"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log, tmp)
    try:
        deadline = time.monotonic() + 180
        while len(served.started_workers()) < 2:  # each worker imports the app: seconds
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "c42 serve did not start its workers"
            time.sleep(0.2)
        assert httpx.get(served.url + "/health", timeout=10).status_code == 200
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _get(url: str, headers: dict[str, str]) -> int:
    # A new connection each time: the kernel hands each to whichever worker accepts first.
    return httpx.get(url, headers={**headers, "Connection": "close"}, timeout=30).status_code


def _scrape(served: Served) -> Scrape:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        return scrape(client)


def test_requests_reach_both_workers_and_the_metrics_add_up(
    workers: Served, factory: Factory, db: Database
) -> None:
    person = factory.user()
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        while len(workers.worker_pids()) < 2 and sent < 2000:
            statuses = list(
                pool.map(lambda _: _get(workers.url + EVENTS, person.headers), range(40))
            )
            assert statuses == [200] * 40
            sent += 40
            time.sleep(0.1)  # the access lines are written after the responses
    assert len(workers.worker_pids()) == 2, "every request went to one worker"
    workers.sent[EVENTS] = sent

    def counted() -> bool:
        return _scrape(workers).value(REQUESTS, route=EVENTS, method="GET", status="200") >= sent

    eventually(counted, 30)
    figures = _scrape(workers)  # served by either worker: the files of both are read
    assert figures.value(REQUESTS, route=EVENTS, method="GET", status="200") == sent
    duration = "c42_http_request_duration_seconds_count"
    assert figures.value(duration, route=EVENTS, method="GET") == sent
    assert figures.value("c42_auth_outcomes_total", kind="Token", reason="ok") == sent
    assert figures.value("c42_worker_processes") == 2
    pids = {
        int(dict(labels)["pid"])
        for (name, labels) in figures.samples
        if name == "process_resident_memory_bytes"
    }
    assert pids == workers.worker_pids()
    assert figures.value("c42_db_pool_capacity") == 2 * _capacity(db)
    assert figures.value("c42_db_pool_connections_in_use") == 0
    for secret in (person.id, person.email, person.token):
        assert secret not in figures.text


def _capacity(db: Database) -> int:
    """What one process's pool may lend (the workers use the same settings)."""
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)
    return int(pool.size() + pool._max_overflow)


def _secrets_used(workers: Served, settings: Settings, db: Database, factory: Factory) -> list[str]:
    """Run what carries secrets through the server (password login, the OAuth code flow with a
    client secret, refresh, Bearer and query tokens, cookies); every secret involved."""
    app = make_app(db, settings, factory.service("Logged"))
    person: Person = person_with_password(factory)
    password = person.password or ""
    oauth_browser = new_browser(workers.url)
    oauth_browser.login(person)
    code = oauth_browser.code(app)
    with httpx.Client(base_url=workers.url, timeout=30) as client:
        issued = exchange(client, app, code)
        assert issued.status_code == 200, issued.text
        renewed = refresh(client, app, issued.json()["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        access = renewed.json()["access_token"]
        assert client.get(EVENTS, headers={"Authorization": f"Bearer {access}"}).is_success
        assert client.get(EVENTS, params={"access_token": access}).is_success
        assert client.get(EVENTS, headers=person.headers).is_success
    with browser(workers.url) as pages:
        assert log_in(pages, person.email, password).status_code == 303
        assert pages.get("/accounts/").status_code == 200
        cookies = [cookie.value for cookie in pages.cookies.jar]
    cookies += [cookie.value for cookie in oauth_browser.http.cookies.jar]
    oauth_browser.http.close()
    values = [password, code, access, person.token, app.client_secret or ""]
    values += [issued.json()["access_token"], issued.json()["refresh_token"]]
    values += [renewed.json()["refresh_token"], *cookies]
    return [value for value in values if value]


def test_workers_start_with_few_malloc_arenas(workers: Served) -> None:
    """Issue 12 (a worker's peak memory): `c42 serve` hands its workers MALLOC_ARENA_MAX, read
    by glibc as each starts; an operator's own value is kept."""
    expected = os.environ.get("MALLOC_ARENA_MAX", str(serve.MALLOC_ARENAS))
    pids = workers.started_workers()
    assert len(pids) == 2
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"MALLOC_ARENA_MAX={expected}".encode() in environ


def test_an_operators_malloc_arena_max_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # undone after the test, as is what follows
    serve.limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "4"
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    serve.limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == str(serve.MALLOC_ARENAS)


def test_every_line_is_json_with_a_timestamp_and_request_id_and_no_secret(
    workers: Served, settings: Settings, db: Database, factory: Factory
) -> None:
    used = _secrets_used(workers, settings, db, factory)
    sent_id = "trace-" + os.urandom(8).hex()
    response = httpx.get(workers.url + "/health", headers={"X-Request-ID": sent_id})
    assert response.headers["x-request-id"] == sent_id

    def logged() -> bool:
        return any(e.get("request_id") == sent_id for e in workers.entries())

    eventually(logged, 30)
    entries = workers.entries()  # each line parsed as JSON, or this fails
    for entry in entries:
        assert {"ts", "level", "event", "logger", "pid", "request_id"} <= entry.keys(), entry
        assert RFC3339_UTC.fullmatch(entry["ts"]), entry["ts"]
    requests = [e for e in entries if e["event"] == "request"]
    assert all(e["request_id"] for e in requests)
    assert len({e["request_id"] for e in requests}) == len(requests)  # one line per request
    mine = [e for e in requests if e["request_id"] == sent_id]
    assert len(mine) == 1 and mine[0]["route"] == "/health" and mine[0]["status"] == 200
    events = [e for e in requests if e["route"] == EVENTS]
    assert {e["credential"] for e in events} >= {"Token", "Bearer"}
    text = workers.log.read_text(encoding="utf-8")
    for value in used:
        assert value not in text, f"a secret is in the log: {value[:6]}..."


def test_a_killed_worker_is_replaced_its_counts_stay_its_gauges_go(
    workers: Served, db: Database
) -> None:
    before = _scrape(workers)
    victim = min(workers.worker_pids())
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        try:
            figures = _scrape(workers)
        except httpx.TransportError:
            return False
        pids = {dict(labels).get("pid") for (_, labels) in figures.samples}
        return (
            str(victim) not in pids
            and figures.value("c42_worker_processes") == 2
            # the new worker's app is up (the dead one's gauge is gone, not added)
            and figures.value("c42_db_pool_capacity") == 2 * _capacity(db)
        )

    eventually(replaced, 120)
    after = _scrape(workers)
    counted = before.value(REQUESTS, route=EVENTS, method="GET", status="200")
    assert counted >= workers.sent.get(EVENTS, 0)
    assert after.value(REQUESTS, route=EVENTS, method="GET", status="200") == counted


def test_sigterm_ends_the_server_and_removes_its_metrics_directory(workers: Served) -> None:
    directories = list(workers.tmp.glob("c42-metrics-*"))
    assert len(directories) == 1
    assert list(directories[0].glob("*.db"))
    workers.process.send_signal(signal.SIGTERM)
    assert workers.process.wait(timeout=60) == 0
    assert not list(workers.tmp.glob("c42-metrics-*"))
