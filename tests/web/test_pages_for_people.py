"""Pages for people (SPEC §8): the start page, an HTML 404 for browsers (the API keeps its
JSON), the login page that says which app and service it continues to, the "form expired"
page that links back to the form, and `Allow` on a 405 with every method of the path."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.factories import Factory
from tests.oauth.helpers import make_app, pkce

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _links(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def test_start_page(web: httpx.Client) -> None:
    page = web.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = _links(page.text)
    for wanted in (
        "/accounts/login/",
        "/accounts/register/",
        "/api/docs",
        "/.well-known/oauth-authorization-server",
    ):
        assert wanted in links, wanted
        assert web.get(wanted, headers=HTML).status_code == 200, wanted


@pytest.mark.parametrize("path", ["/no-such-page", "/accounts/nothing/here/", "/static-ish"])
def test_browsers_get_an_html_404(web: httpx.Client, path: str) -> None:
    page = web.get(path, headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and 'href="/"' in page.text
    assert "content-security-policy" in page.headers  # a page like the others


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/no-such-page", {"Accept": "application/json"}),
        ("/no-such-page", {}),
        ("/api/v2/no-such-resource/", HTML),  # the API answers JSON to everyone
    ],
)
def test_programs_keep_the_json_404(
    client: httpx.Client, path: str, headers: dict[str, str]
) -> None:
    answer = client.get(path, headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v2/events/", "GET, POST"),
        ("POST", "/api/v2/events/0123/", "DELETE, GET, PATCH, PUT"),
        ("DELETE", "/api/v2/user-tokens/", "GET, POST"),
        ("PUT", "/accounts/login/", "GET, POST"),
        ("GET", "/oauth2/token/", "POST"),
    ],
)
def test_allow_lists_every_method(client: httpx.Client, method: str, path: str, allow: str) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow  # RFC 9110 §15.5.6
    assert answer.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("action", "back"),
    [
        ("/accounts/login/", "/accounts/login/"),
        ("/accounts/register/", "/accounts/register/"),
        ("/account/apps/" + "0" * 32 + "/revoke/", "/account/apps/"),
        ("/oauth2/authorize/", None),  # the consent page needs the app's request
    ],
)
def test_form_expired_links_back_to_the_form(
    web: httpx.Client, action: str, back: str | None
) -> None:
    web.get("/accounts/login/")  # a session cookie, but no token in the form
    page = web.post(action, data={"csrf_token": "stale"}, headers=HTML)
    assert page.status_code == 403
    assert "Form expired" in page.text
    if back is None:
        assert "go back" not in page.text
    else:
        assert f'<a href="{back}">go back</a>' in page.text


def test_login_page_names_the_app_and_service(
    web: httpx.Client, db: Database, settings: Settings, factory: Factory
) -> None:
    service_id = factory.service("Acme Planner")
    app = make_app(db, settings, service_id, name="Acme Mobile", public=True)
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    authorize = web.get("/oauth2/authorize/?" + urlencode(params), headers=HTML)
    assert authorize.status_code in (302, 303), authorize.text
    login = web.get(authorize.headers["location"], headers=HTML)
    assert login.status_code == 200
    said = re.search(r'<p class="lead" id="continues-to">(.*?)</p>', login.text, re.S)
    assert said, login.text
    assert "Acme Mobile" in said.group(1) and "Acme Planner" in said.group(1)
    plain = web.get("/accounts/login/", headers=HTML)
    assert 'id="continues-to"' not in plain.text
    unknown = web.get("/accounts/login/", params={"next": "/oauth2/authorize/?client_id=nope"})
    assert 'id="continues-to"' not in unknown.text


def test_login_page_escapes_the_names(
    web: httpx.Client, db: Database, settings: Settings, factory: Factory
) -> None:
    service_id = factory.service("<b>Bold</b> service")
    app = make_app(db, settings, service_id, name="<script>x</script>", public=True)
    next_url = "/oauth2/authorize/?" + urlencode({"client_id": app.client_id})
    login = web.get("/accounts/login/", params={"next": next_url}, headers=HTML)
    assert "&lt;script&gt;x&lt;/script&gt;" in login.text and "<script>x" not in login.text
    assert "&lt;b&gt;Bold&lt;/b&gt; service" in login.text
