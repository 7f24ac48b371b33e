"""Every form carries a CSRF token; a POST without a valid one is refused with 403 and
changes nothing (SPEC §5.3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from c42 import accounts
from c42.db import Database
from tests.factories import Factory, unique_email
from tests.web.helpers import (
    PASSWORD,
    browser,
    csrf_from,
    get_form,
    is_logged_in,
    link_in,
    log_in,
    mails_to,
    path_of,
    submit,
    wait_for_mail,
)


@dataclass
class Case:
    """A form POST ready to send (all but its CSRF token) and a check that nothing changed."""

    path: str
    page: str
    data: dict[str, str]
    unchanged: Callable[[], None]


def _login(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    person = factory.user(password=PASSWORD)
    return Case(
        "/accounts/login/",
        "/accounts/login/",
        {"email": person.email, "password": PASSWORD},
        lambda: _assert(not is_logged_in(web)),
    )


def _logout(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    person = factory.user(password=PASSWORD)
    log_in(web, person.email, PASSWORD)
    return Case("/accounts/logout/", "/accounts/logout/", {}, lambda: _assert(is_logged_in(web)))


def _register(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    email = unique_email("csrf-reg")

    def unchanged() -> None:
        with db.session(write=False) as s:
            assert accounts.find_user(s, email) is None
        assert not mails_to(outbox, email)

    data = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
    return Case("/accounts/register/", "/accounts/register/", data, unchanged)


def _verify(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    email = unique_email("csrf-verify")
    with browser(str(web.base_url)) as registrant:
        data = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
        submit(registrant, "/accounts/register/", data)
    link = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))

    def unchanged() -> None:
        with db.session(write=False) as s:
            user = accounts.find_user(s, email)
            assert user is not None and not user.is_active and not user.email_verified
        assert not is_logged_in(web)

    return Case(link, link, {"password": PASSWORD}, unchanged)


def _reset_request(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    person = factory.user(password=PASSWORD)
    return Case(
        "/accounts/password-reset/",
        "/accounts/password-reset/",
        {"email": person.email},
        lambda: _assert(not mails_to(outbox, person.email)),
    )


def _new_password(web: httpx.Client, factory: Factory, db: Database, outbox: Path) -> Case:
    person = factory.user(password=PASSWORD)
    with browser(str(web.base_url)) as other:
        submit(other, "/accounts/password-reset/", {"email": person.email})
    link = path_of(link_in(wait_for_mail(outbox, person.email, "Reset")))
    with db.session(write=False) as s:
        before = accounts.get_user(s, person.email).password_hash

    def unchanged() -> None:
        with db.session(write=False) as s:
            assert accounts.get_user(s, person.email).password_hash == before

    return Case(link, link, {"password": "a-new-password"}, unchanged)


def _assert(condition: bool) -> None:
    assert condition


FORMS = {
    "login": _login,
    "logout": _logout,
    "register": _register,
    "verify": _verify,
    "password-reset-request": _reset_request,
    "new-password": _new_password,
}
BAD_TOKENS = ["missing", "empty", "wrong", "other-session", "no-session-cookie", "json-body"]


@pytest.mark.parametrize("bad", BAD_TOKENS)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_post_without_a_valid_csrf_token_is_403_and_changes_nothing(
    form: str,
    bad: str,
    web: httpx.Client,
    factory: Factory,
    db: Database,
    outbox: Path,
) -> None:
    case = FORMS[form](web, factory, db, outbox)
    valid = get_form(web, case.page)  # the session has a token; we do not send it
    data = dict(case.data)
    if bad == "empty":
        data["csrf_token"] = ""
    elif bad == "wrong":
        data["csrf_token"] = valid[:-4] + ("aaaa" if not valid.endswith("aaaa") else "bbbb")
    elif bad == "other-session":
        with browser(str(web.base_url)) as other:
            data["csrf_token"] = get_form(other, "/accounts/login/")
    if bad == "no-session-cookie":
        with browser(str(web.base_url)) as cookieless:
            response = cookieless.post(case.path, data={**data, "csrf_token": valid})
    elif bad == "json-body":
        response = web.post(case.path, json={**data, "csrf_token": valid})
    else:
        response = web.post(case.path, data=data)
    assert response.status_code == 403
    assert "Form expired" in response.text  # an HTML page for the browser
    assert response.headers["x-frame-options"] == "DENY"
    case.unchanged()
    # ... and the same form with its token goes through.
    data["csrf_token"] = valid
    assert web.post(case.path, data=data).status_code in (200, 303)


def test_csrf_failure_for_a_program_is_the_json_envelope(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as client:
        response = client.post("/accounts/login/", data={"email": "a@example.com"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


@pytest.fixture
def server_url(web: httpx.Client) -> str:
    return str(web.base_url)


def test_every_form_on_every_page_carries_the_token(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password=PASSWORD)
    pages = ["/accounts/login/", "/accounts/register/", "/accounts/password-reset/"]
    for page in pages:
        html = web.get(page).text
        assert html.count("<form") == html.count('name="csrf_token"') >= 1, page
        assert csrf_from(html)
    log_in(web, person.email, PASSWORD)
    for page in ["/accounts/", "/accounts/logout/"]:
        html = web.get(page).text
        assert html.count("<form") == html.count('name="csrf_token"') >= 1, page
