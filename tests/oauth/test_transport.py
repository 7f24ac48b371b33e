"""RFC 6749 §3.1 / §3.2 (and RFC 9700 §2.6): the OAuth endpoints need TLS. The server's public
address is C42_ISSUER; plain http is only accepted for a loopback issuer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App


@pytest.fixture(scope="module")
def plain_http_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"issuer": "http://c42.example"}), db)
    live.start()
    yield live
    live.stop()


def test_plain_http_issuer_is_refused(plain_http_server: LiveServer, web_app: App) -> None:
    with httpx.Client(base_url=plain_http_server.url, timeout=30) as http:
        token = http.post(
            "/oauth2/token/", data={"grant_type": "refresh_token", "refresh_token": "x"},
            auth=web_app.auth,
        )  # fmt: skip
        assert token.status_code == 400
        assert token.json()["error"] == "insecure_transport"
        page = http.get(
            "/oauth2/authorize/",
            params={"response_type": "code", "client_id": web_app.client_id},
        )
        assert page.status_code == 400 and "location" not in page.headers


def test_https_issuer_is_accepted(settings: Settings, db: Database, web_app: App) -> None:
    live = LiveServer(settings.model_copy(update={"issuer": "https://c42.example"}), db)
    live.start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            answer = http.post(
                "/oauth2/token/", data={"grant_type": "refresh_token", "refresh_token": "x"},
                auth=web_app.auth,
            )  # fmt: skip
        assert answer.json()["error"] == "invalid_grant"
    finally:
        live.stop()
