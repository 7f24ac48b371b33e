"""The security headers of every page (SPEC §6; issue 10, item 18), static files, and the API
left untouched.

Every GET route of the app outside the API is either a machine endpoint listed below or a
page with visits in `PAGE_VISITS`: a new page without an entry fails
`test_every_page_route_is_visited`, so it cannot ship without its headers checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from c42.db import Database
from c42.resources.tokens.endpoint_table import walk
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import WEB_REDIRECT, make_app
from tests.web.helpers import PASSWORD, browser, log_in

# GET routes outside /api/ that are not pages: JSON for programs, or FastAPI's helper page of
# the API docs (its script needs `window.opener`; it shows no C42 data and takes no input).
NOT_PAGES = {
    "/health": "JSON",
    "/health/live": "JSON",
    "/health/ready": "JSON",
    "/metrics": "Prometheus text format (tests/ops/test_metrics.py)",
    "/.well-known/oauth-authorization-server": "JSON (RFC 8414)",
    "/.well-known/openid-configuration": "JSON (OpenID Connect Discovery)",
    "/.well-known/oauth-protected-resource": "JSON (RFC 9728)",
    "/oauth2/jwks/": "JSON (RFC 7517 JWK Set)",
    "/oauth2/jwks": "JSON (RFC 7517 JWK Set)",
    "/oauth2/userinfo/": "JSON (OIDC Core §5.3 UserInfo; a 401 without a token)",
    "/oauth2/userinfo": "JSON (OIDC Core §5.3 UserInfo; a 401 without a token)",
    "/docs/oauth2-redirect": "FastAPI's Swagger UI OAuth redirect helper of /api/docs",
}
SELF_ONLY = "form-action 'self'"
BASE_CSP = [
    "default-src 'self'",
    "script-src 'none'",
    "style-src 'self'",
    "img-src 'self' https: data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
]
# Every page, whatever its status: each header exactly once, with exactly this value.
PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",  # CSRF tokens, personal data, the consent form
    "referrer-policy": "no-referrer",  # no authorize query or reset link leaks onwards
    "x-content-type-options": "nosniff",
}
# Headers a page never carries (HSTS only over HTTPS: tests/web/test_login.py).
NEVER_ON_PAGES = ("access-control-allow-origin", "strict-transport-security", "set-cookie2")


@dataclass(frozen=True)
class Visit:
    """One GET of a page route: the URL ({client_id} and {redirect_uri} filled in), whether
    the browser is logged in, the status and the CSP form-action to expect (None: the
    directive is absent because the form may end in a redirect to a client, see templating)."""

    url: str
    logged_in: bool = False
    staff: bool = False  # logged in as a staff user (the admin console)
    status: int = 200
    form_action: str | None = SELF_ONLY


CLIENT_ORIGIN = "https://client.example"  # of WEB_REDIRECT
AUTHORIZE = "response_type=code&client_id={client_id}&redirect_uri={redirect_uri}&state=s"
PAGE_VISITS: dict[str, list[Visit]] = {
    "/accounts/login/": [
        Visit("/accounts/login/"),
        Visit("/accounts/login/?next=%2Faccounts%2F", form_action=None),
        Visit("/accounts/login/?notice=logged-out", logged_in=True),
    ],
    "/accounts/logout/": [Visit("/accounts/logout/"), Visit("/accounts/logout/", logged_in=True)],
    "/accounts/": [
        Visit("/accounts/", logged_in=True),
        Visit("/accounts/", status=302),
    ],
    "/accounts/register/": [Visit("/accounts/register/?next=%2Faccounts%2F")],
    "/accounts/verify/{token}": [Visit("/accounts/verify/not-a-valid-token", status=400)],
    "/accounts/password-reset/": [Visit("/accounts/password-reset/")],
    "/accounts/password-reset/{token}": [
        Visit("/accounts/password-reset/not-a-valid-token", status=400),
    ],
    "/account/apps/": [
        Visit("/account/apps/", logged_in=True),
        Visit("/account/apps/", status=302),
    ],
    "/account/apps": [Visit("/account/apps", logged_in=True)],
    "/oauth2/authorize/": [
        # The consent page: its form answers with a redirect to the client's origin.
        Visit(
            "/oauth2/authorize/?" + AUTHORIZE,
            logged_in=True,
            form_action=f"form-action 'self' {CLIENT_ORIGIN}",
        ),
        Visit("/oauth2/authorize/?" + AUTHORIZE, status=302),  # to the login page
        Visit("/oauth2/authorize/?client_id=unknown&response_type=code", status=400),
    ],
    "/oauth2/authorize": [
        Visit("/oauth2/authorize?client_id=unknown&response_type=code", logged_in=True, status=400)
    ],
    # OpenID Connect RP-initiated logout: the confirmation page (its form ends on our login
    # page, or at the app's registered post-logout URI: tests/oidc/test_endpoints.py).
    "/oauth2/logout/": [
        Visit("/oauth2/logout/?client_id={client_id}", logged_in=True),
        Visit("/oauth2/logout/", status=303),  # no session: nothing to confirm
        Visit("/oauth2/logout/?post_logout_redirect_uri={redirect_uri}", status=400),
    ],
    "/oauth2/logout": [Visit("/oauth2/logout", logged_in=True)],
    "/": [Visit("/"), Visit("/", logged_in=True)],
    "/accounts/security/": [
        Visit("/accounts/security/", logged_in=True),
        Visit("/accounts/security/", status=302),
    ],
    "/device/": [Visit("/device/", status=302), Visit("/device/", logged_in=True)],
    "/device": [Visit("/device", logged_in=True)],
    # The admin console: staff only; everyone else gets the app's HTML 404 page.
    "/admin/": [
        Visit("/admin/", staff=True),
        Visit("/admin/?q=user", staff=True),
        Visit("/admin/", status=404),
        Visit("/admin/", logged_in=True, status=404),
    ],
    "/admin/users/{user_id}/": [Visit("/admin/users/{user_id}/", staff=True)],
    "/admin/services/": [Visit("/admin/services/", staff=True)],
    "/admin/services/{service_id}/": [Visit("/admin/services/{service_id}/", staff=True)],
    "/admin/apps/": [Visit("/admin/apps/", staff=True)],
    "/admin/apps/{client_id}/": [Visit("/admin/apps/{client_id}/", staff=True)],
    "/admin/audit/": [Visit("/admin/audit/", staff=True)],
}


def get_routes(app: FastAPI) -> set[str]:
    """The path of every GET route outside the API."""
    return {
        path
        for path, methods, _route in walk(app.router.routes)
        if path and "GET" in methods and not path.startswith("/api/")
    }


def assert_page_headers(response: httpx.Response, form_action: str | None = SELF_ONLY) -> None:
    headers = response.headers
    for name, value in PAGE_HEADERS.items():
        assert headers.get_list(name) == [value], (response.url, name, headers.get_list(name))
    for name in NEVER_ON_PAGES:
        assert name not in headers, (response.url, name)
    [csp] = headers.get_list("content-security-policy")
    directives = [d.strip() for d in csp.split(";")]
    assert directives == BASE_CSP + ([form_action] if form_action else []), response.url
    assert "<script" not in response.text
    assert " style=" not in response.text  # no inline styles: the CSP would block them
    assert '<link rel="stylesheet" href="/static/c42.css">' in response.text


def assert_redirect_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers.get_list("cache-control") == ["no-store"]
    assert headers.get_list("referrer-policy") == ["no-referrer"]
    assert headers.get_list("x-content-type-options") == ["nosniff"]
    assert headers["location"].startswith("/")  # only ever to our own pages


def test_every_page_route_is_visited(server: LiveServer) -> None:
    routes = get_routes(server.app)
    assert routes - set(NOT_PAGES) == set(PAGE_VISITS), (
        "a GET route is neither a page with visits in PAGE_VISITS nor listed in NOT_PAGES"
    )


@pytest.fixture
def logged_in(server: LiveServer, factory: Factory) -> Iterator[httpx.Client]:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as client:
        assert log_in(client, person.email, PASSWORD).status_code == 303
        yield client


@pytest.fixture
def staff_browser(server: LiveServer, factory: Factory) -> Iterator[httpx.Client]:
    person = factory.user(password=PASSWORD, staff=True)
    with browser(server.url) as client:
        assert log_in(client, person.email, PASSWORD).status_code == 303
        yield client


@pytest.fixture
def authorize_values(db: Database, settings: Settings, factory: Factory) -> dict[str, str]:
    service_id = factory.service("Headers")
    app = make_app(db, settings, service_id, redirect_uris=[WEB_REDIRECT])
    assert WEB_REDIRECT.startswith(CLIENT_ORIGIN + "/")
    return {
        "client_id": app.client_id,
        "redirect_uri": quote(WEB_REDIRECT, safe=""),
        "service_id": service_id,
        "user_id": factory.user().id,
    }


def _visit_id(visit: Visit) -> str:
    who = "staff" if visit.staff else "user" if visit.logged_in else "anonymous"
    return f"{visit.url.split('?')[0]}-{who}-{visit.status}"


@pytest.mark.parametrize(
    "visit",
    [visit for visits in PAGE_VISITS.values() for visit in visits],
    ids=_visit_id,
)
def test_every_page_carries_the_whole_header_set(
    visit: Visit,
    web: httpx.Client,
    logged_in: httpx.Client,
    staff_browser: httpx.Client,
    authorize_values: dict[str, str],
) -> None:
    client = staff_browser if visit.staff else logged_in if visit.logged_in else web
    response = client.get(visit.url.format(**authorize_values))
    assert response.status_code == visit.status, response.text
    if visit.status in (302, 303):
        assert_redirect_headers(response)
    else:
        assert_page_headers(response, visit.form_action)


def test_not_pages_are_not_html(web: httpx.Client) -> None:
    for path, kind in NOT_PAGES.items():
        if kind.startswith("JSON"):
            response = web.get(path)
            assert response.headers["content-type"].startswith("application/json"), path
            assert response.headers["x-content-type-options"] == "nosniff"


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
