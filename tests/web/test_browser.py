"""Browser tests: Debian's Chromium through Playwright, no JavaScript needed by the pages.

Screenshots of the login and register pages (desktop and phone widths) go to
`C42_SCREENSHOT_DIR` when set (docs/screenshots/ is made that way), else to a temporary dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
)
from starlette.responses import RedirectResponse

from c42.db import Database
from c42.settings import Settings
from tests.browser import chromium as launch_chromium
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.web.helpers import PASSWORD, link_in, path_of, wait_for_mail

pytestmark = pytest.mark.browser
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)  # e.g. a CSP violation

    def on_response(response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            problems.append(f"{response.status} {response.url}")  # e.g. the stylesheet

    page.on("console", on_console)
    page.on("response", on_response)
    yield page
    context.close()
    assert not problems, problems


def test_register_verify_and_log_in(
    page: Page, server: LiveServer, outbox: Path, settings: Settings
) -> None:
    email = unique_email("browser")
    page.goto(f"{server.url}/accounts/register/?next=/accounts/%3Ffrom%3Dbrowser")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/register/")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    link = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))
    page.goto(server.url + link)  # same browser that registered: straight in
    page.wait_for_url("**/accounts/?from=browser")
    assert page.get_by_role("heading", name="Your account").is_visible()
    assert page.get_by_text(email).first.is_visible()

    page.locator("#logout-form button").click()
    page.wait_for_url("**/accounts/login/?notice=logged-out")
    assert page.get_by_role("status").inner_text() == "You are logged out."

    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/")
    assert page.get_by_role("heading", name="Your account").is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["c42_session"]["httpOnly"] is True
    assert cookies["c42_session"]["sameSite"] == "Lax"


def test_wrong_password_shows_an_error_and_keeps_the_address(
    page: Page, server: LiveServer, factory: Factory
) -> None:
    person = factory.user(password=PASSWORD)
    page.goto(f"{server.url}/accounts/login/")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert "not right" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("E-mail address").input_value() == person.email
    assert page.get_by_label("Password").input_value() == ""  # never echoed back


def test_keyboard_focus_order_on_the_login_page(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/accounts/login/")
    # autofocus is applied by the renderer shortly after load: wait for it (fails on timeout)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'email'")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Log in"


@pytest.fixture(scope="module")
def bouncing_server(settings: Settings, db: Database, server: LiveServer) -> Iterator[LiveServer]:
    """A server with one extra route that redirects to another origin, as /oauth2/authorize/
    does when it sends the browser back to a client."""
    live = LiveServer(settings, db)

    async def bounce() -> RedirectResponse:
        return RedirectResponse(f"{server.url}/health", status_code=302)

    live.app.add_api_route("/test-bounce", bounce, include_in_schema=False)
    live.start()
    yield live
    live.stop()


def test_login_with_next_may_end_at_another_origin(
    page: Page, bouncing_server: LiveServer, server: LiveServer, factory: Factory
) -> None:
    """Chromium applies CSP form-action to the whole redirect chain after a POST; the login
    page leaves it out when `next` is set, so login -> authorize -> client works."""
    person = factory.user(password=PASSWORD)
    page.goto(f"{bouncing_server.url}/accounts/login/?next=/test-bounce")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/health")
    assert '"ok"' in page.content()


def _screenshot_dir(tmp_path: Path) -> Path:
    target = os.environ.get("C42_SCREENSHOT_DIR")
    directory = Path(target) if target else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_pages_fit_desktop_and_phone_widths(
    chromium: Browser, server: LiveServer, tmp_path: Path, size: str
) -> None:
    viewport = DESKTOP if size == "desktop" else PHONE
    context = chromium.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    directory = _screenshot_dir(tmp_path)
    suffix = "" if size == "desktop" else "-phone"
    try:
        for name, path in (("login", "/accounts/login/"), ("register", "/accounts/register/")):
            page.goto(server.url + path)
            # Styled by /static/c42.css (the CSP allows no inline style) ...
            assert page.evaluate("getComputedStyle(document.body).display") == "flex"
            # ... and no horizontal scrolling at this width.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (name, width)
            button = page.locator("button[type=submit]")
            box = button.bounding_box()
            assert box is not None and box["height"] >= 40  # a comfortable touch target
            target = directory / f"{name}{suffix}.png"
            page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 5000
    finally:
        context.close()


def test_register_errors_are_announced_and_focused(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/accounts/register/")
    page.get_by_label("First name").fill("Ann")
    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # The answer page focuses the first field to fix once rendered: wait for it (fails on
    # timeout) instead of racing the navigation.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'email'")
    email = page.get_by_label("E-mail address")
    assert email.get_attribute("aria-invalid") == "true"
    assert "email-error" in (email.get_attribute("aria-describedby") or "")
    assert page.get_by_role("alert").first.is_visible()
