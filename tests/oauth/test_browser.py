"""The OAuth pages in a real browser: Debian's Chromium through Playwright.

Log in -> consent -> Allow redirects to the app's (local) redirect URI with a code; Deny with
access_denied; a confidential app's consent is remembered; /account/apps/ disconnects an app.
A JavaScript app on a registered origin reads the token endpoint's answer (CORS); a page on
any other origin cannot. Screenshots of the consent and connected-apps pages go to
`C42_SCREENSHOT_DIR` when set (docs/screenshots/ is made that way), else to a temporary dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium as launch_chromium
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import (
    App,
    Listener,
    exchange,
    make_app,
    person_with_password,
    pkce,
    query_of,
)

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("C42_SCREENSHOT_DIR")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _authorize_url(server: LiveServer, app: App, redirect_uri: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": "service.read service.write",
        "state": "browser-state",
        **extra,
    }
    return str(httpx.URL(f"{server.url}/oauth2/authorize/", params=params))


def _log_in(page: Page, person: Person) -> None:
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password or "")
    page.locator("#login-form button[type=submit]").click()


def test_consent_allow_deny_remembered_and_revoked(
    page: Page,
    server: LiveServer,
    db: Database,
    settings: Settings,
    factory: Factory,
    client: httpx.Client,
    shots: Path,
) -> None:
    person = person_with_password(factory)
    service_id = factory.service("Planner Pro")
    factory.subscribe(service_id, person)
    with Listener() as web_target, Listener() as native_target:
        web_redirect = f"{web_target.origin}/code/"
        web = make_app(
            db, settings, service_id, redirect_uris=[web_redirect], name="Planner Pro for Web"
        )
        native = make_app(db, settings, service_id, public=True, name="Planner Pro Desktop")

        # Not logged in: the login page, then the consent page.
        page.goto(_authorize_url(server, web, web_redirect))
        assert page.url.startswith(f"{server.url}/accounts/login/?next=")
        _log_in(page, person)
        page.wait_for_selector("#consent-form")
        assert "Planner Pro" in page.inner_text("main")
        assert page.locator("li[data-scope]").count() == 2
        page.screenshot(path=str(shots / "consent.png"), full_page=True)

        # Allow: the browser lands on the app's redirect URI with a code.
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{web_redirect}?*")
        query = query_of(page.url)
        assert query["state"] == "browser-state"
        assert query["iss"] == settings.issuer
        assert any(path.startswith("/code/?code=") for path in web_target.received)
        web.redirect_uris = [web_redirect]
        tokens = exchange(client, web, query["code"]).json()
        assert "access_token" in tokens

        # Remembered consent (confidential app): straight back to the app, no page.
        page.goto(_authorize_url(server, web, web_redirect, state="again"))
        page.wait_for_url(f"{web_redirect}?*")
        assert query_of(page.url)["state"] == "again"

        # A public app always asks; Deny sends access_denied back.
        native_redirect = f"{native_target.origin}/callback"
        _, challenge = pkce()
        page.goto(
            _authorize_url(
                server,
                native,
                native_redirect,
                code_challenge=challenge,
                code_challenge_method="S256",
            )
        )
        page.wait_for_selector("#consent-form")
        assert "cannot confirm who made it" in page.inner_text("main")
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(f"{native_redirect}?*")
        assert query_of(page.url)["error"] == "access_denied"

    # Connected apps: the web app is listed (the denied one is not); disconnect it.
    page.goto(f"{server.url}/account/apps/")
    assert page.locator(".connected-app").count() == 1
    page.screenshot(path=str(shots / "account-apps.png"), full_page=True)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v2/calendars/", headers=bearer).status_code == 200
    page.get_by_role("button", name="Disconnect").click()
    page.wait_for_selector("#no-apps")
    assert "disconnected" in page.inner_text("main")
    assert client.get("/api/v2/calendars/", headers=bearer).status_code == 401


JS_PAGE = b"<!doctype html><title>JS app</title><p>JavaScript app</p>"


def _fetch_token(page: Page, url: str, form: dict[str, str]) -> Any:
    return page.evaluate(
        """async ([url, form]) => {
            try {
                const answer = await fetch(url, {method: "POST", body: new URLSearchParams(form)});
                return {status: answer.status, body: await answer.json()};
            } catch (error) {
                return {error: String(error)};
            }
        }""",
        [url, form],
    )


def test_javascript_app_reads_the_token_response_only_from_its_origin(
    page: Page, server: LiveServer, db: Database, settings: Settings, factory: Factory
) -> None:
    person = person_with_password(factory)
    service_id = factory.service("JS service")
    factory.subscribe(service_id, person)
    with Listener(JS_PAGE) as js, Listener(JS_PAGE) as stranger:
        redirect = f"{js.origin}/callback"
        app = make_app(
            db, settings, service_id, public=True, redirect_uris=[redirect],
            cors_origins=[js.origin],
        )  # fmt: skip
        verifier, challenge = pkce()
        page.goto(
            _authorize_url(
                server, app, redirect, code_challenge=challenge, code_challenge_method="S256"
            )
        )
        _log_in(page, person)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{redirect}?*")
        form = {
            "grant_type": "authorization_code",
            "code": query_of(page.url)["code"],
            "redirect_uri": redirect,
            "client_id": app.client_id,
            "code_verifier": verifier,
        }
        # The app's own page reads the answer.
        page.goto(f"{js.origin}/")
        answer = _fetch_token(page, f"{server.url}/oauth2/token/", form)
        assert answer.get("status") == 200, answer
        assert answer["body"]["token_type"] == "Bearer"
        # A page of another origin cannot read any answer, not even an error: the browser
        # blocks it (a simple POST is still sent, which is why codes are single-use and
        # bound to PKCE).
        page.goto(f"{stranger.origin}/")
        blocked = _fetch_token(page, f"{server.url}/oauth2/token/", {**form, "code": "x"})
        assert "error" in blocked and "status" not in blocked, blocked
        page.goto(f"{js.origin}/")
        readable = _fetch_token(page, f"{server.url}/oauth2/token/", {**form, "code": "x"})
        assert readable.get("status") == 400, readable
