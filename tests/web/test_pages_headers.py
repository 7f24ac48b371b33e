"""Security headers on every page (SPEC §6), static files, and the API left untouched."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Factory
from tests.web.helpers import PASSWORD, log_in

PUBLIC_PAGES = [
    "/accounts/login/",
    "/accounts/login/?next=/accounts/",
    "/accounts/register/",
    "/accounts/password-reset/",
    "/accounts/logout/",
    "/accounts/verify/not-a-valid-token",  # error page, 400
    "/accounts/password-reset/not-a-valid-token",  # error page, 400
]


def assert_page_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["content-type"].startswith("text/html")
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    csp = {
        d.strip().split(" ")[0]: d.strip() for d in headers["content-security-policy"].split(";")
    }
    assert csp["default-src"] == "default-src 'self'"
    assert csp["script-src"] == "script-src 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["base-uri"] == "base-uri 'none'"
    assert csp["object-src"] == "object-src 'none'"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "<script" not in response.text
    assert " style=" not in response.text  # no inline styles: the CSP would block them


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_carry_the_security_headers(web: httpx.Client, path: str) -> None:
    response = web.get(path)
    assert response.status_code in (200, 400)
    assert_page_headers(response)
    assert '<link rel="stylesheet" href="/static/c42.css">' in response.text


def test_form_action_is_self_except_where_a_post_may_end_at_a_client(web: httpx.Client) -> None:
    assert "form-action 'self'" in web.get("/accounts/register/").headers["content-security-policy"]
    assert "form-action 'self'" in web.get("/accounts/login/").headers["content-security-policy"]
    with_next = web.get("/accounts/login/?next=/oauth2/authorize/%3Fclient_id%3Dx")
    assert "form-action" not in with_next.headers["content-security-policy"]


def test_logged_in_pages_and_error_pages_carry_them_too(
    web: httpx.Client, factory: Factory
) -> None:
    person = factory.user(password=PASSWORD)
    log_in(web, person.email, PASSWORD)
    assert_page_headers(web.get("/accounts/"))
    assert_page_headers(web.get("/accounts/logout/"))
    forbidden = web.post("/accounts/logout/", data={})
    assert forbidden.status_code == 403
    assert_page_headers(forbidden)


def test_redirects_are_not_cached(web: httpx.Client) -> None:
    response = web.get("/accounts/")
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"


def test_the_stylesheet_is_served(web: httpx.Client) -> None:
    response = web.get("/static/c42.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "set-cookie" not in response.headers


def test_api_and_health_never_touch_the_session(web: httpx.Client, factory: Factory) -> None:
    person = factory.user(password=PASSWORD)
    log_in(web, person.email, PASSWORD)  # the client now holds a session cookie
    for response in (
        web.get("/health"),
        web.get("/api/v2/calendars/", headers=person.headers),
        web.get("/api/v2/calendars/"),
    ):
        assert "set-cookie" not in response.headers
        assert "cookie" not in response.headers.get("vary", "").lower()
    # A session cookie is not an API credential.
    assert web.get("/api/v2/calendars/").status_code == 401


def test_oversized_form_is_413(web: httpx.Client) -> None:
    response = web.post(
        "/accounts/login/",
        content=b"email=" + b"a" * (100 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_malformed_multipart_is_a_4xx(web: httpx.Client) -> None:
    response = web.post(
        "/accounts/login/",
        content=b"--x\r\nnot a part",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= response.status_code < 500
