"""The operators' journeys in Chromium (SPEC §8): find a user, revoke a credential, rotate an
app's secret and see it once, filter the audit log. Screenshots (admin-*.png) go to
`C42_SCREENSHOT_DIR` when set (docs/img/ is made that way), else to a temporary directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from c42 import accounts
from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium as launch_chromium
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import PASSWORD, make_app

pytestmark = pytest.mark.browser
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("C42_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def staff(factory: Factory, db: Database) -> Person:
    person = factory.user(password=PASSWORD, prefix="operator", first_name="Olga", last_name="Op")
    with db.session() as s:
        accounts.set_staff(s, accounts.get_user(s, person.email), True)
    return person


@pytest.fixture
def page(chromium: Browser, server: LiveServer, staff: Person) -> Iterator[Page]:
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)  # e.g. a CSP violation

    page.on("console", on_console)
    page.goto(f"{server.url}/accounts/login/?next=/admin/")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    yield page
    context.close()
    assert not problems, problems


def test_find_a_user_and_revoke_a_user_token(
    page: Page, factory: Factory, client: httpx.Client, shots: Path
) -> None:
    person = factory.user(password=PASSWORD, prefix="customer", first_name="Cora", last_name="C")
    assert client.get("/api/v2/events/", headers=person.headers).status_code == 200  # last used
    page.get_by_label("E-mail contains").fill(person.email.split("@")[0])
    page.get_by_role("button", name="Search").click()
    page.screenshot(path=str(shots / "admin-users.png"), full_page=True)
    page.get_by_role("link", name=person.email).click()
    expect(page.get_by_role("heading", name=person.email)).to_be_visible()
    expect(page.locator("#user-tokens tbody tr")).to_have_count(1)
    page.screenshot(path=str(shots / "admin-user.png"), full_page=True)
    page.locator("#user-tokens button", has_text="Revoke").click()
    expect(page.get_by_text("The credential is revoked.")).to_be_visible()
    expect(page.locator("#user-tokens")).to_have_count(0)  # no live User Token left


def test_rotate_an_app_secret_and_see_it_once(
    page: Page, server: LiveServer, factory: Factory, db: Database, settings: Settings, shots: Path
) -> None:
    service_id = factory.service("Rotation Service")
    app = make_app(db, settings, service_id, name="Calendar Sync")
    page.goto(f"{server.url}/admin/apps/")
    page.get_by_role("link", name="Calendar Sync").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate the client secret").click()
    secret = page.locator("#client-secret").inner_text()
    assert secret and secret != app.client_secret
    page.screenshot(path=str(shots / "admin-app-secret.png"), full_page=True)
    page.reload()  # a reload asks again, and only the app page comes back: no secret
    page.goto(f"{server.url}/admin/apps/{app.client_id}/")
    expect(page.locator("#client-secret")).to_have_count(0)
    assert secret not in page.content()
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#app-state")).to_contain_text("disabled since")


def test_filter_the_audit_log(page: Page, server: LiveServer, staff: Person, shots: Path) -> None:
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("User (e-mail)").fill(staff.email)
    page.get_by_label("Type").select_option("login")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tr.audit-record")
    expect(rows.first).to_be_visible()
    for kind in rows.evaluate_all("rows => rows.map(r => r.dataset.type)"):
        assert kind == "login"
    page.screenshot(path=str(shots / "admin-audit.png"), full_page=True)
