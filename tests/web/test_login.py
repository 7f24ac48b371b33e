"""Login, logout and the session cookie (SPEC §5.3, §6)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from c42.auth.passwords import hash_password
from c42.db import Database
from c42.models import User
from c42.settings import Settings
from c42.web.links import safe_next
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.web.helpers import browser, csrf_from, get_form, is_logged_in, log_in, submit

SAFE_NEXT = [
    "/accounts/",
    "/accounts/?a=1&b=2",
    "/oauth2/authorize/?client_id=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=s",
    "/a/%2F%2Fevil.example",  # an encoded slash stays a path segment
]
UNSAFE_NEXT = [
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "/\\/evil.example/",
    "\\\\evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",  # browsers drop the tab: "//evil.example"
    "/\n/evil.example",
    "/ /evil.example",
    " /accounts/",
    "evil.example",
    "",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("value", SAFE_NEXT)
def test_safe_next_keeps_local_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", UNSAFE_NEXT)
def test_safe_next_refuses_everything_else(value: str) -> None:
    assert safe_next(value) is None


def test_login_page_keeps_the_form_contract(web: httpx.Client) -> None:
    response = web.get("/accounts/login/?next=" + quote(SAFE_NEXT[2], safe=""))
    html = response.text
    assert '<form id="login-form"' in html
    for name in ('name="email"', 'name="password"', 'name="csrf_token"'):
        assert name in html
    assert 'name="next" value="/oauth2/authorize/?client_id=x&amp;redirect_uri=' in html
    assert 'href="/accounts/register/?next=%2Foauth2%2Fauthorize%2F%3Fclient_id%3Dx' in html


@pytest.mark.parametrize("next_url", SAFE_NEXT[:3])
def test_login_continues_to_a_local_next(
    web: httpx.Client, factory: Factory, next_url: str
) -> None:
    person = factory.user(password="pw-" + "x" * 10)
    response = log_in(web, person.email, "pw-" + "x" * 10, next_url)
    assert response.status_code == 303
    assert response.headers["location"] == next_url
    assert is_logged_in(web)


@pytest.mark.parametrize("next_url", UNSAFE_NEXT)
def test_login_ignores_an_open_redirect_next(
    web: httpx.Client, factory: Factory, next_url: str
) -> None:
    person = factory.user(password="pw-" + "x" * 10)
    page = web.get("/accounts/login/", params={"next": next_url})
    assert 'name="next"' not in page.text  # not carried into the form either
    assert "evil" not in page.text
    response = web.post(
        "/accounts/login/",
        data={
            "email": person.email,
            "password": "pw-" + "x" * 10,
            "next": next_url,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/"


def test_wrong_password_and_unknown_address_get_one_generic_answer(
    web: httpx.Client, factory: Factory
) -> None:
    person = factory.user(password="right-password")
    wrong = log_in(web, person.email, "wrong-password")
    unknown = log_in(web, unique_email("nobody"), "wrong-password")
    malformed = log_in(web, "not an address", "wrong-password")
    for response in (wrong, unknown, malformed):
        assert response.status_code == 400
        assert "The e-mail address or password is not right." in response.text
        assert "set-cookie" not in response.headers or "uid" not in response.headers["set-cookie"]
    assert not is_logged_in(web)


def test_empty_fields_are_a_400(web: httpx.Client) -> None:
    assert submit(web, "/accounts/login/", {"email": "", "password": ""}).status_code == 400


def test_deactivated_account_cannot_log_in(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password="right-password", active=False)
    response = log_in(web, person.email, "right-password")
    assert response.status_code == 400
    assert not is_logged_in(web)


def test_sandbox_users_never_log_in(web: httpx.Client, factory: Factory, db: Database) -> None:
    service_id = factory.service("Sandbox host")
    email = unique_email("sandbox")
    with db.session() as s:
        s.add(
            User(
                email=email,
                password_hash=hash_password("sandbox-password"),
                is_active=True,
                email_verified=True,
                sandbox_service_id=service_id,
            )
        )
    response = log_in(web, email, "sandbox-password")
    assert response.status_code == 400
    assert not is_logged_in(web)


def test_session_cookie_flags_over_http(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password="right-password")
    response = log_in(web, person.email, "right-password")
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("c42_session=")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain-HTTP issuer


@pytest.fixture(scope="module")
def https_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"issuer": "https://c42.example"}), db)
    live.start()
    yield live
    live.stop()


def test_session_cookie_is_secure_when_the_issuer_is_https(https_server: LiveServer) -> None:
    with browser(https_server.url) as client:
        response = client.get("/accounts/login/")
    attributes = [p.strip().lower() for p in response.headers["set-cookie"].split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_login_rotates_the_session(web: httpx.Client, factory: Factory) -> None:
    """Session fixation: the pre-login cookie (which an attacker could have planted) never
    becomes a logged-in session, and the CSRF token changes."""
    person = factory.user(password="right-password")
    token_before = get_form(web, "/accounts/login/")
    planted = web.cookies["c42_session"]
    response = web.post(
        "/accounts/login/",
        data={"email": person.email, "password": "right-password", "csrf_token": token_before},
    )
    assert response.status_code == 303
    assert web.cookies["c42_session"] != planted
    assert get_form(web, "/accounts/logout/") != token_before
    with browser(str(web.base_url)) as attacker:
        attacker.cookies.set("c42_session", planted)
        assert not is_logged_in(attacker)


def test_tampered_session_cookie_is_ignored(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password="right-password")
    log_in(web, person.email, "right-password")
    value = web.cookies["c42_session"]
    web.cookies.set("c42_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert not is_logged_in(web)


def test_logout_page_has_a_form_and_post_logs_out(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password="right-password")
    log_in(web, person.email, "right-password")
    page = web.get("/accounts/logout/")
    assert '<form id="logout-form" method="post" action="/accounts/logout/">' in page.text
    assert is_logged_in(web)  # GET changes nothing
    response = web.post("/accounts/logout/", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/login/?notice=logged-out"
    assert not is_logged_in(web)
    assert "You are logged out." in web.get(response.headers["location"]).text


def test_account_page_needs_a_login(web: httpx.Client) -> None:
    response = web.get("/accounts/")
    assert response.status_code == 302
    assert response.headers["location"] == "/accounts/login/?next=%2Faccounts%2F"


def test_deactivating_the_user_ends_the_session(
    web: httpx.Client, factory: Factory, db: Database
) -> None:
    person = factory.user(password="right-password")
    log_in(web, person.email, "right-password")
    assert is_logged_in(web)
    with db.session() as s:
        user = s.get(User, person.id)
        assert user is not None
        user.is_active = False
    assert not is_logged_in(web)
