"""The /device/ journey in Chromium on a phone-sized viewport (RFC 8628 §3.3, SPEC §11): the
person types the code their TV shows (lower case, no hyphen), logs in, allows the app; the
TV's polling then gets the tokens. The pages fit the phone's width (no sideways scrolling)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium as launch_chromium
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import make_app, person_with_password

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 740}  # a small phone, CSS pixels
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _fits(page: Page) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")
    return bool(width <= PHONE["width"])


def test_device_journey_on_a_phone(
    phone: Page,
    server: LiveServer,
    db: Database,
    settings: Settings,
    factory: Factory,
    client: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = Path(os.environ.get("C42_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    person = person_with_password(factory)
    service_id = factory.service("Couch TV")
    factory.subscribe(service_id, person)
    tv = make_app(db, settings, service_id, public=True, device=True, name="Couch TV app")
    started = client.post(
        "/oauth2/device_authorization/", data={"client_id": tv.client_id, "scope": "service.read"}
    ).json()
    poll = {"grant_type": GRANT, "device_code": started["device_code"], "client_id": tv.client_id}
    assert client.post("/oauth2/token/", data=poll).json()["error"] == "authorization_pending"

    # The address the TV shows (the test server's port is not the issuer's).
    phone.goto(server.url + httpx.URL(started["verification_uri"]).path)
    assert "/accounts/login/" in phone.url
    phone.get_by_label("E-mail address").fill(person.email)
    phone.get_by_label("Password").fill(person.password or "")
    phone.locator("#login-form button[type=submit]").click()
    phone.wait_for_selector("#device-form")
    assert _fits(phone)
    phone.get_by_label("Code").fill(started["user_code"].replace("-", "").lower())
    phone.locator("#device-form button[type=submit]").click()
    phone.wait_for_selector("#consent-form")
    assert phone.inner_text("#device-code") == started["user_code"]
    assert "Couch TV app" in phone.inner_text("main")
    assert _fits(phone)
    phone.screenshot(path=str(shots / "device-consent-phone.png"), full_page=True)
    phone.get_by_role("button", name="Allow").click()
    phone.wait_for_selector("text=Device connected")
    assert _fits(phone)

    tokens = client.post("/oauth2/token/", data=poll)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "service.read"
