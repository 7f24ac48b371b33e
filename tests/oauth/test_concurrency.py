"""SPEC §6: one authorization code redeemed by 50 parallel requests yields exactly one token;
one refresh token likewise (a conditional UPDATE per claim, on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, exchange, refresh

PARALLEL = 50


def _race(server: LiveServer, call: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    start = threading.Barrier(PARALLEL)

    def one(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            start.wait()
            return call(http).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


def test_parallel_code_redemptions(
    browser: Browser, web_app: App, server: LiveServer, client: httpx.Client
) -> None:
    code = browser.code(web_app)
    statuses = _race(server, lambda http: exchange(http, web_app, code))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == PARALLEL - 1, statuses


def test_parallel_refreshes(
    browser: Browser, web_app: App, server: LiveServer, client: httpx.Client
) -> None:
    first = exchange(client, web_app, browser.code(web_app)).json()
    statuses = _race(server, lambda http: refresh(http, web_app, first["refresh_token"]))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == PARALLEL - 1, statuses
