"""The silent flow needs no browser and no page: a plain HTTP client that follows redirects
lands on the app's redirect URI (here a tiny local HTTP server on a random port) with the
code; a real OAuth client library (requests-oauthlib) exchanges it. And in Chromium, through
Playwright, navigating to the authorize URL ends on the app's redirect URI with no page shown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from requests_oauthlib import OAuth2Session

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium
from tests.conftest import LiveServer
from tests.silent.helpers import (
    App,
    address,
    bearer,
    exchange,
    make_app,
    params,
    query_of,
    sandbox_users,
)


class Callback:
    """A one-path HTTP server on a random loopback port: the app's redirect URI."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = b"signed in"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def callback() -> Iterator[Callback]:
    server = Callback()
    yield server
    server.close()


@pytest.fixture
def loopback_app(db: Database, settings: Settings, service_id: str, callback: Callback) -> App:
    return make_app(db, settings, service_id, redirect_uri=callback.uri)


def test_a_plain_client_following_redirects_lands_on_the_redirect_uri(
    server: LiveServer, client: httpx.Client, db: Database, loopback_app: App, callback: Callback
) -> None:
    email = address("plain")
    sent = params(loopback_app, email)
    with httpx.Client(follow_redirects=True, timeout=30) as plain:
        landed = plain.get(f"{server.url}/oauth2/authorize/", params=sent)
    assert landed.status_code == 200 and landed.text == "signed in"
    assert str(landed.url).startswith(callback.uri + "?")
    assert [r.status_code for r in landed.history] == [302]  # one hop: no page in between
    [path] = callback.hits
    query = query_of(path)
    assert query["state"] == sent["state"] and query["iss"] == "http://127.0.0.1:8042"
    token = exchange(client, loopback_app, query["code"])
    assert token.status_code == 200, token.text
    assert client.get("/api/v2/events/", headers=bearer(token.json())).status_code == 200
    assert len(sandbox_users(db, email)) == 1


def test_requests_oauthlib_runs_the_silent_flow(
    server: LiveServer,
    client: httpx.Client,
    loopback_app: App,
    callback: Callback,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server is plain http
    session = OAuth2Session(
        loopback_app.client_id,
        redirect_uri=loopback_app.redirect_uri,
        scope=["service.read", "service.write"],
        pkce="S256",
    )
    url, state = session.authorization_url(
        f"{server.url}/oauth2/authorize/", email_address=address("lib")
    )
    with httpx.Client(follow_redirects=True, timeout=30) as plain:
        landed = plain.get(url)
    assert landed.status_code == 200
    token = session.fetch_token(
        f"{server.url}/oauth2/token/",
        authorization_response=str(landed.url),
        client_secret=loopback_app.client_secret,
        include_client_id=True,
    )
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    created = session.post(f"{server.url}/api/v2/calendars/", json={"name": "From the library"})
    assert created.status_code == 201, created.text
    assert state and query_of(callback.hits[0])["state"] == state
    # The token is the sandbox's: refreshing works through the library too.
    refreshed = session.refresh_token(
        f"{server.url}/oauth2/token/",
        auth=(loopback_app.client_id, loopback_app.client_secret or ""),
    )
    assert refreshed["access_token"] != token["access_token"]


@pytest.mark.browser
def test_chromium_is_sent_straight_to_the_redirect_uri(
    server: LiveServer, client: httpx.Client, db: Database, loopback_app: App, callback: Callback
) -> None:
    # Chromium follows the redirect itself (Playwright does not route redirected requests),
    # so the app's redirect URI is the local callback server.
    email = address("chromium")
    sent = params(loopback_app, email)
    documents: list[str] = []
    with chromium() as browser:
        context = browser.new_context()  # a fresh profile: no C42 session cookie
        page = context.new_page()
        page.on(
            "request",
            lambda r: documents.append(r.url) if r.resource_type == "document" else None,
        )
        page.goto(f"{server.url}/oauth2/authorize/?{urlencode(sent)}")
        landed = page.url
        assert page.text_content("body") == "signed in"
        context.close()
    assert landed.startswith(loopback_app.redirect_uri + "?")
    # Two documents: the authorize URL and the app's redirect URI; no login or consent page.
    assert len(documents) == 2 and documents[0].startswith(f"{server.url}/oauth2/authorize/")
    [path] = [hit for hit in callback.hits if hit.startswith("/callback?")]  # not the favicon
    query = query_of(path)
    assert query["state"] == sent["state"] and "code" in query
    token = exchange(client, loopback_app, query["code"])
    assert token.status_code == 200, token.text
    assert client.get("/api/v2/calendars/", headers=bearer(token.json())).status_code == 200
    assert len(sandbox_users(db, email)) == 1
