"""SPEC §6: the token endpoint is rate limited (per client IP and per client_id)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App


@pytest.fixture(scope="module")
def strict_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"rate_limit_token": "3/60"}), db)
    live.start()
    yield live
    live.stop()


def test_token_endpoint_rate_limit(strict_server: LiveServer, web_app: App) -> None:
    with httpx.Client(base_url=strict_server.url, timeout=30) as http:
        form = {"grant_type": "authorization_code", "code": "nope"}
        statuses = [
            http.post("/oauth2/token/", data=form, auth=web_app.auth).status_code for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429]
        limited = http.post("/oauth2/token/", data=form, auth=web_app.auth)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["cache-control"] == "no-store"
