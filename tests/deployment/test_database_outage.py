"""Database outage (SPEC §7): with the database unreachable every kind of request answers 503
with `Retry-After` within 2 s in its own format — never a hang, never a 500 — a write cut by
the outage leaves nothing behind, and the server serves again as soon as the database is back,
without a restart.

The database is a private PostgreSQL cluster that these tests stop and start (services.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.deployment.services import SECRET_KEY, PrivatePostgres, needs_postgres_pass
from tests.factories import Factory, Person
from tests.oauth.helpers import PASSWORD, new_browser

pytestmark = needs_postgres_pass
DATABASE = "c42_outage"
DEADLINE = 2.0  # SPEC §7: the 503 comes within this many seconds
EVENT = {
    "event_type": "normal",
    "start": "2027-03-01T09:00:00Z",
    "end": "2027-03-01T10:00:00Z",
    "start_timezone": "UTC",
    "end_timezone": "UTC",
}


@dataclass
class Site:
    server: LiveServer
    db: Database
    factory: Factory
    cluster: PrivatePostgres

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30)


def _settings(url: str, root: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SECRET_KEY,
        outbox_dir=root / "outbox",
        rate_limit_login="100000/60",
        rate_limit_token="100000/60",
        purge_interval=0,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        url = cluster.migrated_database(DATABASE)
        settings = _settings(url, tmp_path_factory.mktemp("outage"))
        db = Database(url)
        server = LiveServer(settings, db)
        server.start()
        try:
            yield Site(server, db, Factory(db, settings), cluster)
        finally:
            server.stop()
            db.dispose()
    finally:
        cluster.destroy()


@pytest.fixture
def up(site: Site) -> Iterator[Site]:
    """The site with its database running, before and after the test."""
    if not site.cluster.is_running():
        site.cluster.start()
    yield site
    if not site.cluster.is_running():
        site.cluster.start()


def timed(send: httpx.Client, method: str, path: str, **kw: object) -> httpx.Response:
    started = time.monotonic()
    response = send.request(method, path, **kw)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE, f"{method} {path} answered after {elapsed:.2f} s"
    return response


def assert_api_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "error": {
            "status_code": 503,
            "code": "service_unavailable",
            "message": "The service is temporarily unavailable; retry later.",
        }
    }


def assert_page_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    assert "Temporarily unavailable" in response.text


def test_while_the_database_is_down_every_request_is_a_quick_503_and_then_it_recovers(
    up: Site,
) -> None:
    person = up.factory.user(password=PASSWORD)
    browser = new_browser(up.server.url)
    browser.login(person)
    browser.http.headers["Accept"] = "text/html"
    token_form = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "no-such-app"}
    authorize = {"response_type": "code", "client_id": "no-such-app", "state": "s"}
    with up.api() as api:
        assert api.get("/api/v2/events/", headers=person.headers).status_code == 200
        assert api.get("/api/v2/calendars/", headers=person.headers).status_code == 200
        assert browser.http.get("/accounts/").status_code == 200
        refused = api.post("/oauth2/token/", data=token_form)
        assert refused.json()["error"] == "invalid_client", refused.text

        up.cluster.stop()
        # The API: the events list (compiled statements on the DB-API connection), reads and a
        # write through the ORM session.
        assert_api_503(timed(api, "GET", "/api/v2/events/", headers=person.headers))
        assert_api_503(timed(api, "GET", "/api/v2/calendars/", headers=person.headers))
        body = {"name": "During the outage"}
        assert_api_503(timed(api, "POST", "/api/v2/calendars/", json=body, headers=person.headers))
        # The token endpoint: RFC 6749 JSON.
        answer = timed(api, "POST", "/oauth2/token/", data=token_form)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.json()["error_description"]
        # Pages, and the authorization endpoint (no redirect URI can be checked): a 503 page.
        assert_page_503(timed(browser.http, "GET", "/accounts/"))
        assert_page_503(timed(browser.http, "GET", "/oauth2/authorize/", params=authorize))

        up.cluster.start()
        # No restart of the server: the next requests are served.
        assert api.get("/api/v2/events/", headers=person.headers).status_code == 200
        assert api.get("/api/v2/calendars/", headers=person.headers).status_code == 200
        assert browser.http.get("/accounts/").status_code == 200
    browser.http.close()


def test_after_a_quick_database_restart_the_first_requests_succeed(up: Site) -> None:
    """Every pooled connection died with the restart; none of them fails a request (without a
    round trip per checkout: c42.db replaces a connection the server closed at checkout)."""
    person = up.factory.user()
    with up.api() as api:
        for _ in range(3):  # connections in the pool, idle
            assert api.get("/api/v2/events/", headers=person.headers).status_code == 200
            assert api.get("/api/v2/calendars/", headers=person.headers).status_code == 200
        up.cluster.stop()
        up.cluster.start()
        assert api.get("/api/v2/events/", headers=person.headers).status_code == 200
        assert api.get("/api/v2/calendars/", headers=person.headers).status_code == 200
        created = api.post("/api/v2/calendars/", json={"name": "After"}, headers=person.headers)
        assert created.status_code == 201, created.text


def _sync_token_and_titles(dsn: str, title: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as connection:
        counter = connection.execute("SELECT value FROM sync_counter").fetchone()
        events = connection.execute("SELECT count(*) FROM events WHERE title = %s", (title,))
        found = events.fetchone()
    assert counter is not None and found is not None
    return int(counter[0]), int(found[0])


def _wait_for_lock_wait(dsn: str, statement: str) -> None:
    """Until a backend waits for a lock while running `statement...`."""
    deadline = time.monotonic() + 15
    with psycopg.connect(dsn, autocommit=True) as monitor:
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE %s",
                (statement + "%",),
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"no request waited on a lock in {statement!r}")


def test_a_write_cut_by_the_outage_writes_nothing(up: Site) -> None:
    """The request has taken the sync token and inserted the event and its subscription when
    it waits (on a lock this test holds) to refresh the readable rows; then the database goes
    down. Nothing of it may be there when the database is back."""
    person: Person = up.factory.user()
    dsn = up.cluster.dsn(DATABASE)
    title = f"cut-{time.time_ns()}"
    token_before, _ = _sync_token_and_titles(dsn, title)
    holder = psycopg.connect(dsn)
    holder.execute("LOCK TABLE readable_events IN SHARE MODE")  # writers of it wait
    answers: list[httpx.Response] = []

    def post() -> None:
        with up.api() as api:
            body = {**EVENT, "title": title}
            answers.append(api.post("/api/v2/events/", json=body, headers=person.headers))

    writer = threading.Thread(target=post)
    writer.start()
    try:
        _wait_for_lock_wait(dsn, "DELETE FROM readable_events")
        up.cluster.stop()
        writer.join(timeout=DEADLINE)
        assert not writer.is_alive(), "the cut request did not answer in time"
    finally:
        writer.join(timeout=30)
        holder.close()
    assert_api_503(answers[0])

    up.cluster.start()
    token_after, events = _sync_token_and_titles(dsn, title)
    assert (token_after, events) == (token_before, 0)
    engine = create_engine(up.cluster.url(DATABASE))
    with engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT count(*) FROM event_subscriptions s"
                " LEFT JOIN events e ON e.id = s.event_id WHERE e.id IS NULL"
            )
        ).scalar_one()
    engine.dispose()
    assert orphans == 0


def test_a_database_that_never_answers_is_a_503_after_the_connect_timeout(
    tmp_path: Path,
) -> None:
    """A server that accepts connections and never answers (a hung or firewalled database):
    connecting gives up after 2 s (libpq's shortest timeout), the request is a 503."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes handshakes; nobody ever reads
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/c42"
        db = Database(url)
        server = LiveServer(_settings(url, tmp_path), db)
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as api:
                headers = {"Authorization": "Token " + "a" * 40}
                started = time.monotonic()
                answer = api.get("/api/v2/calendars/", headers=headers)
                elapsed = time.monotonic() - started
                assert_api_503(answer)
                token = api.post(
                    "/oauth2/token/",
                    data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "c"},
                )
                assert token.status_code == 503
                assert token.json()["error"] == "temporarily_unavailable"
        finally:
            server.stop()
            db.dispose()
    assert 1.5 < elapsed < DEADLINE + 1.0, elapsed  # 2 s of connecting, then the answer
