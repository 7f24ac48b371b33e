"""RFC 8628 §3.5 and issue 16: an approved device code polled by 50 clients at the same moment,
against a real `c42 serve --workers 2` on the test database (two processes, each with its own
connection pool, so the claim is decided by the database and not by a lock in one process):
exactly one poll gets tokens, the others `invalid_grant` (or `slow_down`), never a 500, and
the database holds one token pair. On SQLite and on PostgreSQL (`C42_TEST_DATABASE_URL`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from c42.db import Database
from c42.models import OAuthToken
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, bearer, make_app
from tests.oauth.test_rfc8628_device import decide, poll, started
from tests.ops.processes import Served, environment

PARALLEL = 50


@pytest.fixture(scope="module")
def workers(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`c42 serve --workers 2` on the test database and its server key."""
    root = tmp_path_factory.mktemp("device-workers")
    env = environment(
        root,
        settings.database_url,
        C42_SECRET_KEY=settings.secret_key,
        # A small pool per worker: the race queues for connections instead of opening 50 at
        # once, which a PostgreSQL shared with other suites (max_connections) may refuse.
        C42_DB_POOL_SIZE="8",
        C42_DB_MAX_OVERFLOW="4",
    )
    served = Served(root, env, "--workers", "2")
    try:
        served.wait_ready(timeout=120)
        deadline = time.monotonic() + 120  # the second worker imports the app: seconds
        while served.output().count("Application startup complete") < 2:
            assert served.process.poll() is None, served.output()
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.2)
        yield served
    finally:
        served.terminate()


def _race(url: str, app: App, device_code: str) -> list[httpx.Response]:
    start = threading.Barrier(PARALLEL)

    def one(_: int) -> httpx.Response:
        # A connection each: the kernel hands each to whichever worker accepts first.
        with httpx.Client(base_url=url, timeout=60, headers={"Connection": "close"}) as http:
            start.wait()
            return poll(http, app, device_code)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_fifty_polls_across_two_workers_redeem_once(
    workers: Served,
    client: httpx.Client,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
    public: bool,
) -> None:
    app = make_app(db, settings, service_id, public=public, device=True)
    body = started(client, app, scope="service.read")
    assert decide(browser, body["user_code"], "allow").status_code == 200

    answers = _race(workers.url, app, body["device_code"])

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 1, [answer.text for answer in answers]
    refusals = {answer.json()["error"] for answer in answers if answer.status_code != 200}
    assert set(statuses) == {200, 400}, statuses  # never a 500 (nor a 429)
    assert refusals <= {"invalid_grant", "slow_down"}, refusals
    with db.session(write=False) as session:
        issued = session.scalar(
            select(func.count()).select_from(OAuthToken).where(OAuthToken.app_id == app.id)
        )
    assert issued == 1  # never two token pairs
    [won] = [answer.json() for answer in answers if answer.status_code == 200]
    assert won["scope"] == "service.read"
    listed = client.get("/api/v2/calendars/", headers=bearer(won))
    assert listed.status_code == 200, listed.text
    # And the code stays used for any later poll, on either worker.
    with httpx.Client(base_url=workers.url, timeout=30) as http:
        again = poll(http, app, body["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
