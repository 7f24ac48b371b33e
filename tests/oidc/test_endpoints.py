"""Discovery, UserInfo refusals (RFC 6750), RP-initiated logout 1.0 and silent OAuth's
refusal of `openid` (SPEC §10)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import (
    _HIDDEN,
    PASSWORD,
    App,
    Browser,
    make_app,
    new_browser,
    query_of,
)
from tests.oidc.helpers import relying_party, sign_in

LOGGED_OUT = "https://client.example/logged-out"


@pytest.fixture
def rp_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, post_logout_redirect_uris=[LOGGED_OUT])


@pytest.fixture
def someone(server: LiveServer, factory: Factory) -> Iterator[tuple[Person, Browser]]:
    person = factory.user(password=PASSWORD, first_name="Grace", last_name="Hopper")
    browser = new_browser(server.url)
    browser.login(person)
    yield person, browser
    browser.http.close()


# -- discovery -------------------------------------------------------------------------------


def test_discovery_document(server: LiveServer) -> None:
    answer = httpx.get(f"{server.url}/.well-known/openid-configuration")
    assert answer.status_code == 200
    body = answer.json()
    oauth = httpx.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    for name, value in oauth.items():  # generated from the same source as RFC 8414's
        assert body[name] == value, name
    assert body["issuer"] == server.url
    assert body["jwks_uri"] == f"{server.url}/oauth2/jwks/"
    assert body["userinfo_endpoint"] == f"{server.url}/oauth2/userinfo/"
    assert body["end_session_endpoint"] == f"{server.url}/oauth2/logout/"
    assert {"openid", "profile", "email"} <= set(body["scopes_supported"])
    assert body["response_types_supported"] == ["code"]
    assert body["subject_types_supported"] == ["public"]
    assert body["id_token_signing_alg_values_supported"][0] == "RS256"
    assert "ES256" in body["id_token_signing_alg_values_supported"]
    assert {"sub", "email", "name", "auth_time", "nonce"} <= set(body["claims_supported"])


# -- UserInfo refusals -----------------------------------------------------------------------


def _userinfo(server: LiveServer, **kwargs: object) -> httpx.Response:
    method = str(kwargs.pop("method", "GET"))
    return httpx.request(method, f"{server.url}/oauth2/userinfo/", **kwargs)  # type: ignore[arg-type]


def test_userinfo_without_a_token_is_a_bare_challenge(server: LiveServer) -> None:
    answer = _userinfo(server)
    assert answer.status_code == 401
    # RFC 6750 §3.1: no error code; RFC 9449 §7.2: the DPoP scheme beside Bearer, with its algs.
    assert answer.headers["www-authenticate"] == (
        'Bearer realm="c42", DPoP realm="c42", algs="ES256 ES384 ES512 PS256 RS256 Ed25519"'
    )


def test_userinfo_with_an_unknown_token_is_invalid_token(server: LiveServer) -> None:
    answer = _userinfo(server, headers={"Authorization": "Bearer " + "x" * 43})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert answer.json()["error"] == "invalid_token"


def test_userinfo_with_a_token_without_openid_is_insufficient_scope(
    server: LiveServer, browser: Browser, web_app: App
) -> None:
    rp = relying_party(server.url, web_app, scope="service.read")
    started = rp.create_authorization_url(web_app.redirect_uri)
    answer = browser.http.get(started["url"])
    if answer.status_code == 200:
        answer = browser.consent(answer, "allow")
    code = query_of(answer.headers["location"])["code"]
    token = rp.fetch_access_token(
        web_app.redirect_uri, code=code, code_verifier=started["code_verifier"]
    )
    assert "id_token" not in token  # not an OpenID Connect request
    refused = _userinfo(server, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert 'scope="openid"' in refused.headers["www-authenticate"]


def test_userinfo_token_in_header_and_body_is_invalid_request(
    server: LiveServer, browser: Browser, web_app: App
) -> None:
    done = sign_in(relying_party(server.url, web_app), browser, web_app.redirect_uri)
    access = done.token["access_token"]
    answer = _userinfo(
        server,
        method="POST",
        headers={"Authorization": f"Bearer {access}"},
        data={"access_token": access},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_userinfo_after_revocation_is_invalid_token(
    server: LiveServer, browser: Browser, web_app: App
) -> None:
    done = sign_in(relying_party(server.url, web_app), browser, web_app.redirect_uri)
    access = done.token["access_token"]
    revoked = httpx.post(f"{server.url}/oauth2/revoke/", data={"token": access}, auth=web_app.auth)
    assert revoked.status_code == 200
    answer = _userinfo(server, headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 401


# -- silent OAuth ----------------------------------------------------------------------------


def test_openid_in_a_silent_request_is_invalid_scope(
    db: Database, settings: Settings, service_id: str, anonymous: Browser
) -> None:
    app = make_app(db, settings, service_id, silent=True)
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": "openid service.read",
        "state": "s1",
        "email_address": "nobody-yet@example.com",
    }
    answer = anonymous.authorize(params)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["error"] == "invalid_scope" and query["state"] == "s1"


# -- RP-initiated logout -----------------------------------------------------------------------


def _confirm(browser: Browser, page: httpx.Response) -> httpx.Response:
    assert page.status_code == 200 and 'id="oidc-logout-form"' in page.text, page.text
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    return browser.http.post("/oauth2/logout/", data=form)


def _logged_in(browser: Browser) -> bool:
    return browser.http.get("/accounts/").status_code == 200


def test_rp_initiated_logout(
    server: LiveServer, someone: tuple[Person, Browser], rp_app: App
) -> None:
    _, browser = someone
    rp = relying_party(server.url, rp_app)
    done = sign_in(rp, browser, rp_app.redirect_uri)
    logout = rp.create_logout_url(
        post_logout_redirect_uri=LOGGED_OUT, id_token_hint=done.token["id_token"]
    )
    page = browser.http.get(logout["url"])
    assert rp_app.client_id not in page.text  # the app is named, not its id
    assert _logged_in(browser)  # nothing ends before the user confirms
    answer = _confirm(browser, page)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(LOGGED_OUT + "?")
    assert query_of(location)["state"] == logout["state"]
    assert not _logged_in(browser)  # the server-side session ended


def test_logout_confirmation_needs_the_csrf_token(
    server: LiveServer, someone: tuple[Person, Browser], rp_app: App
) -> None:
    _, browser = someone
    answer = browser.http.post("/oauth2/logout/", data={"client_id": rp_app.client_id})
    assert answer.status_code == 403
    assert _logged_in(browser)


def test_logout_to_an_unregistered_uri_is_an_error_page(
    server: LiveServer, someone: tuple[Person, Browser], rp_app: App
) -> None:
    _, browser = someone
    params = {"client_id": rp_app.client_id, "post_logout_redirect_uri": "https://evil.example/"}
    answer = browser.http.get("/oauth2/logout/", params=params)
    assert answer.status_code == 400 and "location" not in answer.headers
    # Registered URIs match exactly: no prefix, no other path.
    params["post_logout_redirect_uri"] = LOGGED_OUT + "/more"
    assert browser.http.get("/oauth2/logout/", params=params).status_code == 400
    assert _logged_in(browser)


def test_logout_redirect_needs_the_app_to_be_named(
    server: LiveServer, someone: tuple[Person, Browser]
) -> None:
    _, browser = someone
    answer = browser.http.get("/oauth2/logout/", params={"post_logout_redirect_uri": LOGGED_OUT})
    assert answer.status_code == 400


def test_logout_with_a_forged_id_token_hint_is_an_error_page(
    server: LiveServer, someone: tuple[Person, Browser]
) -> None:
    _, browser = someone
    answer = browser.http.get(
        "/oauth2/logout/", params={"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    )
    assert answer.status_code == 400


def test_logout_without_a_redirect_ends_on_the_login_page(
    server: LiveServer, someone: tuple[Person, Browser]
) -> None:
    _, browser = someone
    answer = _confirm(browser, browser.http.get("/oauth2/logout/"))
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/accounts/login/")
    assert not _logged_in(browser)


def test_logout_without_a_session_goes_straight_back(
    server: LiveServer, anonymous: Browser, rp_app: App
) -> None:
    params = {"client_id": rp_app.client_id, "post_logout_redirect_uri": LOGGED_OUT, "state": "z"}
    answer = anonymous.http.get("/oauth2/logout/", params=params)
    assert answer.status_code == 303
    assert answer.headers["location"] == LOGGED_OUT + "?state=z"


def test_cli_registers_post_logout_redirect_uris(
    server: LiveServer, settings: Settings, service_id: str
) -> None:
    from tests.oidc.test_keys import _c42

    created = _c42(
        settings,
        "app",
        "create",
        "--service",
        service_id,
        "--name",
        "Logout App",
        "--redirect-uri",
        "https://rp.example/cb",
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    client_id = __import__("json").loads(created.stdout)["client_id"]
    anon = httpx.Client(base_url=server.url)
    params = {"client_id": client_id, "post_logout_redirect_uri": "https://rp.example/bye"}
    assert anon.get("/oauth2/logout/", params=params).status_code == 303
    updated = _c42(
        settings, "app", "update", client_id, "--post-logout-redirect-uri", "https://rp.example/x"
    )
    assert updated.returncode == 0, updated.stderr
    assert anon.get("/oauth2/logout/", params=params).status_code == 400
    bad = _c42(
        settings, "app", "update", client_id, "--post-logout-redirect-uri", "http://rp.example/x"
    )
    assert bad.returncode == 2, bad.stderr  # plain http off loopback: refused like redirect URIs
    anon.close()
