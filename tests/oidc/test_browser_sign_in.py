""" "Sign in with C42" in Chromium: a tiny relying-party web site served by the test (a
confidential web app using Authlib's OpenID Connect client on its server side) sends the
browser to C42, which logs the user in and asks for consent; back on the site, the page shows
the user's name taken from the validated id_token. Then the site's "Sign out" ends the C42
session through RP-initiated logout and comes back to the site."""

from __future__ import annotations

import html
import http.server
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import PASSWORD, make_app
from tests.oidc.helpers import RelyingParty, relying_party

pytestmark = pytest.mark.browser


class Site:
    """The relying party's web site on an ephemeral loopback port: / (a sign-in link),
    /login (to C42), /callback (code -> tokens -> validated id_token -> the user's name),
    /logout (to C42's end-session endpoint), /bye (after logout)."""

    def __init__(self) -> None:
        self.rp: RelyingParty | None = None
        self.pending: dict[str, Any] = {}
        self.id_token: str | None = None
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, location, body = site.answer(parts.path, query)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                payload = body.encode()
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str | None, str]:
        assert self.rp is not None
        if path == "/login":
            self.pending = self.rp.create_authorization_url(self.origin + "/callback")
            return 302, self.pending["url"], ""
        if path == "/callback":
            if query.get("state") != self.pending.get("state") or "code" not in query:
                return 400, None, "<p id='error'>sign-in failed</p>"
            token = self.rp.fetch_access_token(
                self.origin + "/callback",
                code=query["code"],
                code_verifier=self.pending["code_verifier"],
            )
            claims = self.rp.parse_id_token(token, nonce=self.pending["nonce"])
            self.id_token = token["id_token"]
            name = html.escape(str(claims.get("name", claims["sub"])))
            return (
                200,
                None,
                f"<p>Signed in as <strong id='user'>{name}</strong></p>"
                + ("<a id='sign-out' href='/logout'>Sign out</a>"),
            )
        if path == "/logout":
            logout = self.rp.create_logout_url(
                post_logout_redirect_uri=self.origin + "/bye", id_token_hint=self.id_token
            )
            return 302, logout["url"], ""
        if path == "/bye":
            return 200, None, "<p id='bye'>Signed out</p>"
        return 200, None, "<h1>Planner</h1><a id='sign-in' href='/login'>Sign in with C42</a>"

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_sign_in_with_c42_shows_the_name_from_the_id_token(
    chrome: Browser,
    server: LiveServer,
    db: Database,
    settings: Settings,
    factory: Factory,
    service_id: str,
) -> None:
    person = factory.user(password=PASSWORD, first_name="Katherine", last_name="Johnson")
    with Site() as site:
        app = make_app(
            db,
            settings,
            service_id,
            redirect_uris=[site.origin + "/callback"],
            post_logout_redirect_uris=[site.origin + "/bye"],
            name="Planner",
        )
        site.rp = relying_party(server.url, app, scope="openid profile")
        page = chrome.new_page()
        try:
            page.goto(site.origin + "/")
            page.click("#sign-in")
            page.wait_for_url(f"{server.url}/accounts/login/**")
            page.fill("#email", person.email)
            page.fill("#password", PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_url(f"{server.url}/oauth2/authorize/**")
            consent = page.locator("#consent-form")
            expect(consent).to_be_visible()
            expect(page.locator("li[data-scope=profile]")).to_contain_text("name")
            page.click("button[name=decision][value=allow]")
            page.wait_for_url(site.origin + "/callback**")
            expect(page.locator("#user")).to_have_text("Katherine Johnson")
            page.click("#sign-out")
            page.wait_for_url(f"{server.url}/oauth2/logout/**")
            page.click("#oidc-logout-form button[type=submit]")
            page.wait_for_url(site.origin + "/bye**")
            expect(page.locator("#bye")).to_be_visible()
            # The C42 session ended: the account page asks for a login again.
            page.goto(f"{server.url}/accounts/")
            page.wait_for_url(f"{server.url}/accounts/login/**")
        finally:
            page.close()
