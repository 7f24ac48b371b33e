"""A single-page app in a real browser (issue 17, SPEC §5.3): the example app of
docs/examples/spa/, served from its own loopback origin, connects through C42's login and
consent pages with PKCE, exchanges the code with `fetch`, reads and writes the API with its
Bearer token (CORS preflights included), refreshes, revokes, and reads the 401 that follows.
The same page on an origin no app registered is blocked by the browser."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import make_app, person_with_password

pytestmark = pytest.mark.browser
SPA_DIR = Path(__file__).resolve().parents[2] / "docs" / "examples" / "spa"


class SPAServer:
    """Serves docs/examples/spa/ (index.html for / and /callback, app.js) and a config.js
    naming the C42 server and the app, on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        files = {
            "/app.js": ("text/javascript", (SPA_DIR / "app.js").read_bytes()),
            "/": ("text/html", (SPA_DIR / "index.html").read_bytes()),
        }
        spa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/config.js":
                    kind, body = "text/javascript", spa.config_js()
                else:
                    kind, body = files.get(path, files["/"])
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def config_js(self) -> bytes:
        return f"window.C42_CONFIG = {json.dumps(self.config)};\n".encode()

    def __enter__(self) -> SPAServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def _call(page: Page, script: str, *args: Any) -> Any:
    """Run `script` (an async function of the page's `planner`) and return what it returns, or
    {"failed": message} when the browser refused the request (a CORS block is a TypeError)."""
    return page.evaluate(
        f"""async (args) => {{
            try {{ return await ({script})(...args); }}
            catch (error) {{ return {{failed: String(error)}}; }}
        }}""",
        list(args),
    )


def test_single_page_app_connects_reads_writes_refreshes_and_revokes(
    page: Page, server: LiveServer, db: Database, settings: Settings, factory: Factory
) -> None:
    person = person_with_password(factory)
    service_id = factory.service("SPA service")
    factory.subscribe(service_id, person)
    with SPAServer() as spa, SPAServer() as stranger:
        app = make_app(
            db, settings, service_id, public=True, redirect_uris=[f"{spa.origin}/callback"],
            cors_origins=[spa.origin],
        )  # fmt: skip
        spa.config = stranger.config = {
            "server": server.url,
            "issuer": settings.issuer,  # the test server runs on another port than its issuer
            "clientId": app.client_id,
            "redirectUri": f"{spa.origin}/callback",
            "scope": "service.read service.write",
        }
        page.goto(f"{spa.origin}/")
        page.get_by_role("button", name="Connect to C42").click()
        page.get_by_label("E-mail address").fill(person.email)
        page.get_by_label("Password").fill(person.password or "")
        page.locator("#login-form button[type=submit]").click()
        page.get_by_role("button", name="Allow").click()
        status = page.locator("#status")
        status.filter(has_not_text="Not connected.").wait_for()
        assert status.inner_text() == "Connected.", status.inner_text()
        assert page.url == f"{spa.origin}/"  # the used code is gone from the address bar
        assert page.locator("#calendars li").count() == 0  # nothing in this service yet

        # A write with service.write (a JSON body: a preflighted request), then reads.
        created = _call(
            page, "(body) => planner.api('/api/v2/calendars/', {method: 'POST', body})",
            {"name": "From the browser"},
        )  # fmt: skip
        assert created["status"] == 201, created
        new_id = created["body"]["data"][0]["id"]
        read = _call(page, "(path) => planner.api(path)", f"/api/v2/calendars/{new_id}/")
        assert read["status"] == 200, read
        assert read["body"]["data"][0]["name"] == "From the browser"
        changed = _call(
            page, "(path) => planner.api(path, {method: 'PATCH', body: {name: 'Renamed'}})",
            f"/api/v2/calendars/{new_id}/",
        )  # fmt: skip
        assert changed["status"] == 200, changed
        deleted = _call(
            page, "(path) => planner.api(path, {method: 'DELETE'})", f"/api/v2/calendars/{new_id}/"
        )
        assert deleted["status"] == 204, deleted

        # Refresh (rotation), and the new access token works.
        first = _call(page, "() => planner.tokens()")
        refreshed = _call(page, "() => planner.refresh()")
        assert refreshed["access_token"] != first["access_token"], refreshed
        assert _call(page, "() => planner.api('/api/v2/events/')")["status"] == 200

        # The same page on an origin no app registered: the browser blocks the preflighted
        # call, even with a working token.
        token = refreshed["access_token"]
        stranger_page = page.context.new_page()
        stranger_page.goto(f"{stranger.origin}/")
        blocked = _call(
            stranger_page,
            """async (url, token) => {
                const answer = await fetch(url, {headers: {Authorization: `Bearer ${token}`}});
                return {status: answer.status};
            }""",
            f"{server.url}/api/v2/calendars/",
            token,
        )
        assert "failed" in blocked and "status" not in blocked, blocked

        # Revoke, then the page reads the 401 and its challenge.
        _call(page, "() => planner.disconnect()")
        after = _call(page, "() => planner.api('/api/v2/calendars/')")
        assert after["status"] == 401, after
        assert after["body"]["error"]["code"] == "invalid_token"
        assert 'error="invalid_token"' in (after["challenge"] or ""), after
