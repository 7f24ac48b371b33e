"""The OpenID Foundation's Basic OP conformance modules that apply to a code-flow OP, one test
each, named after the module (oidcc-...), run with Authlib's OpenID Connect relying party
(discovery, PKCE, nonce, `parse_id_token` validating the id_token against the JWKS) and a
browser that logs in and answers consent through the real pages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import (
    PASSWORD,
    App,
    Browser,
    exchange,
    make_app,
    new_browser,
    query_of,
)
from tests.oidc.helpers import (
    RelyingParty,
    authorization,
    finish,
    log_in_at,
    relying_party,
    sign_in,
)


@pytest.fixture
def rp(server: LiveServer, web_app: App) -> RelyingParty:
    return relying_party(server.url, web_app)


@pytest.fixture
def ada(server: LiveServer, factory: Factory) -> Iterator[tuple[Person, Browser]]:
    """A user with a first and a last name, logged in in a browser of their own."""
    person = factory.user(password=PASSWORD, first_name="Ada", last_name="Lovelace")
    browser = new_browser(server.url)
    browser.login(person)
    yield person, browser
    browser.http.close()


def _login_location(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith("/accounts/login/"), location
    return str(location)


# -- oidcc-server and friends ------------------------------------------------------------------


def test_oidcc_server(rp: RelyingParty, browser: Browser, web_app: App, person: Person) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    claims = done.claims
    assert claims["sub"] == person.id
    assert claims["aud"] == web_app.client_id and claims["azp"] == web_app.client_id
    assert claims["nonce"] == done.nonce
    assert claims["iat"] <= time.time() + 5 and claims["exp"] > time.time()
    assert "at_hash" in claims and "auth_time" in claims
    assert done.token["token_type"] == "Bearer"


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    # Authlib's RP always sends a nonce: this request is written out by hand.
    params = {
        "response_type": "code",
        "client_id": web_app.client_id,
        "redirect_uri": web_app.redirect_uri,
        "scope": "openid",
        "state": "no-nonce",
    }
    answer = browser.authorize(params)
    if answer.status_code == 200:
        answer = browser.consent(answer, "allow")
    code = query_of(answer.headers["location"])["code"]
    token = exchange(browser.http, web_app, code).json()
    claims = rp.parse_id_token(token, nonce=None)
    assert "nonce" not in claims


# -- prompt ----------------------------------------------------------------------------------


def test_oidcc_prompt_none_not_logged_in(
    rp: RelyingParty, anonymous: Browser, web_app: App
) -> None:
    started, answer = authorization(rp, anonymous, web_app.redirect_uri, prompt="none")
    assert answer.status_code == 302, answer.text  # never a page
    query = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(web_app.redirect_uri)
    assert query["error"] == "login_required"
    assert query["state"] == started["state"]


def test_oidcc_prompt_none_logged_in(rp: RelyingParty, browser: Browser, web_app: App) -> None:
    first = sign_in(rp, browser, web_app.redirect_uri)  # consent given once
    started, answer = authorization(rp, browser, web_app.redirect_uri, prompt="none")
    again = finish(rp, started, answer)
    assert again.claims["sub"] == first.claims["sub"]
    assert again.claims["auth_time"] == first.claims["auth_time"]  # no new login


def test_oidcc_prompt_none_without_consent_is_consent_required(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    _, answer = authorization(rp, browser, web_app.redirect_uri, prompt="none")
    assert answer.status_code == 302, answer.text
    assert query_of(answer.headers["location"])["error"] == "consent_required"


def test_oidcc_prompt_login(rp: RelyingParty, ada: tuple[Person, Browser], web_app: App) -> None:
    person, browser = ada
    first = sign_in(rp, browser, web_app.redirect_uri)
    time.sleep(1.1)  # auth_time has a resolution of a second
    started, answer = authorization(rp, browser, web_app.redirect_uri, prompt="login")
    back = log_in_at(browser, _login_location(answer), person)
    second = finish(rp, started, back)
    assert second.claims["auth_time"] > first.claims["auth_time"]
    assert second.claims["sub"] == first.claims["sub"]


def test_oidcc_prompt_login_answered_by_a_replayed_marker_alone_asks_again(
    rp: RelyingParty, ada: tuple[Person, Browser], web_app: App
) -> None:
    """The way back from the login page carries a marker; without a new login it does not
    satisfy prompt=login."""
    _, browser = ada
    _, answer = authorization(rp, browser, web_app.redirect_uri, prompt="login")
    location = _login_location(answer)
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    time.sleep(1.1)
    skipped = browser.http.get(next_url)  # back to authorize without logging in
    assert skipped.status_code == 302 and skipped.headers["location"].startswith(
        "/accounts/login/"
    ), skipped.headers.get("location")


def test_oidcc_prompt_consent_shows_the_page_again(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    sign_in(rp, browser, web_app.redirect_uri)
    started = rp.create_authorization_url(web_app.redirect_uri, prompt="consent")
    page = browser.http.get(started["url"])
    assert page.status_code == 200 and 'id="consent-form"' in page.text


def test_oidcc_prompt_select_account_asks_for_the_login(
    rp: RelyingParty, ada: tuple[Person, Browser], web_app: App
) -> None:
    person, browser = ada
    started, answer = authorization(rp, browser, web_app.redirect_uri, prompt="select_account")
    finish(rp, started, log_in_at(browser, _login_location(answer), person))


def test_prompt_none_with_another_value_is_invalid_request(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    _, answer = authorization(rp, browser, web_app.redirect_uri, prompt="none login")
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


# -- max_age ---------------------------------------------------------------------------------


def test_oidcc_max_age_1(rp: RelyingParty, ada: tuple[Person, Browser], web_app: App) -> None:
    person, browser = ada
    first = sign_in(rp, browser, web_app.redirect_uri)
    time.sleep(2)
    started, answer = authorization(rp, browser, web_app.redirect_uri, max_age="1")
    second = finish(rp, started, log_in_at(browser, _login_location(answer), person))
    assert second.claims["auth_time"] > first.claims["auth_time"]


def test_oidcc_max_age_10000(rp: RelyingParty, browser: Browser, web_app: App) -> None:
    first = sign_in(rp, browser, web_app.redirect_uri)
    started, answer = authorization(rp, browser, web_app.redirect_uri, max_age="10000")
    second = finish(rp, started, answer)  # no new login
    assert second.claims["auth_time"] == first.claims["auth_time"]


def test_max_age_not_a_number_is_invalid_request(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    _, answer = authorization(rp, browser, web_app.redirect_uri, max_age="soon")
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


def test_max_age_with_prompt_none_and_an_old_login_is_login_required(
    rp: RelyingParty, ada: tuple[Person, Browser], web_app: App
) -> None:
    _, browser = ada
    sign_in(rp, browser, web_app.redirect_uri)
    time.sleep(2)
    _, answer = authorization(rp, browser, web_app.redirect_uri, max_age="1", prompt="none")
    assert query_of(answer.headers["location"])["error"] == "login_required"


# -- hints -----------------------------------------------------------------------------------


def test_oidcc_login_hint(
    rp: RelyingParty, anonymous: Browser, web_app: App, person: Person
) -> None:
    started, answer = authorization(rp, anonymous, web_app.redirect_uri, login_hint=person.email)
    location = _login_location(answer)
    page = anonymous.http.get(location)
    assert f'value="{person.email}"' in page.text  # the e-mail is filled in
    done = finish(rp, started, log_in_at(anonymous, location, person))
    assert done.claims["sub"] == person.id


def test_oidcc_id_token_hint(rp: RelyingParty, browser: Browser, web_app: App) -> None:
    first = sign_in(rp, browser, web_app.redirect_uri)
    hint = first.token["id_token"]
    started, answer = authorization(
        rp, browser, web_app.redirect_uri, prompt="none", id_token_hint=hint
    )
    again = finish(rp, started, answer)
    assert again.claims["sub"] == first.claims["sub"]


def test_id_token_hint_of_another_user_with_prompt_none_is_login_required(
    rp: RelyingParty, browser: Browser, ada: tuple[Person, Browser], web_app: App
) -> None:
    _, ada_browser = ada
    hint = sign_in(rp, ada_browser, web_app.redirect_uri).token["id_token"]
    sign_in(rp, browser, web_app.redirect_uri)
    _, answer = authorization(rp, browser, web_app.redirect_uri, prompt="none", id_token_hint=hint)
    assert query_of(answer.headers["location"])["error"] == "login_required"


def test_id_token_hint_not_issued_here_is_invalid_request(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    _, answer = authorization(rp, browser, web_app.redirect_uri, id_token_hint=forged)
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


# -- parameters and scopes -------------------------------------------------------------------


def test_oidcc_unknown_parameters(rp: RelyingParty, browser: Browser, web_app: App) -> None:
    extra = {
        "extra_param": "foobar",
        "display": "page",
        "ui_locales": "se",
        "claims_locales": "se",
        "acr_values": "1 2",
    }
    sign_in(rp, browser, web_app.redirect_uri, **extra)


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    unsigned = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."  # {"scope": "openid"}
    started, answer = authorization(rp, browser, web_app.redirect_uri, request=unsigned)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["error"] == "request_not_supported" and query["state"] == started["state"]


@pytest.mark.parametrize("display", ["page", "popup"])
def test_oidcc_display(rp: RelyingParty, browser: Browser, web_app: App, display: str) -> None:
    sign_in(rp, browser, web_app.redirect_uri, display=display)


def test_oidcc_scope_profile(server: LiveServer, ada: tuple[Person, Browser], web_app: App) -> None:
    person, browser = ada
    rp = relying_party(server.url, web_app, scope="openid profile")
    done = sign_in(rp, browser, web_app.redirect_uri)
    assert done.claims["name"] == "Ada Lovelace"
    assert done.claims["given_name"] == "Ada" and done.claims["family_name"] == "Lovelace"
    assert isinstance(done.claims["updated_at"], int)
    assert "email" not in done.claims
    info = rp.userinfo(token=done.token)
    assert info["sub"] == person.id and info["name"] == "Ada Lovelace" and "email" not in info


def test_oidcc_scope_email(server: LiveServer, ada: tuple[Person, Browser], web_app: App) -> None:
    person, browser = ada
    rp = relying_party(server.url, web_app, scope="openid email")
    done = sign_in(rp, browser, web_app.redirect_uri)
    assert done.claims["email"] == person.email and done.claims["email_verified"] is True
    assert "name" not in done.claims
    info = rp.userinfo(token=done.token)
    assert info["email"] == person.email and "name" not in info


def test_oidcc_scope_all(server: LiveServer, ada: tuple[Person, Browser], web_app: App) -> None:
    person, browser = ada
    rp = relying_party(server.url, web_app, scope="openid profile email service.read")
    done = sign_in(rp, browser, web_app.redirect_uri)
    info = rp.userinfo(token=done.token)
    assert info["email"] == person.email and info["family_name"] == "Lovelace"
    assert set(done.token["scope"].split()) == {"openid", "profile", "email", "service.read"}


def test_oidcc_ensure_other_scope_order_succeeds(
    server: LiveServer, browser: Browser, web_app: App, person: Person
) -> None:
    rp = relying_party(server.url, web_app, scope="email openid")
    done = sign_in(rp, browser, web_app.redirect_uri)
    assert done.claims["email"] == person.email


# -- UserInfo --------------------------------------------------------------------------------


def test_oidcc_userinfo_get(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App, person: Person
) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    bearer = {"Authorization": f"Bearer {done.token['access_token']}"}
    answer = httpx.get(f"{server.url}/oauth2/userinfo/", headers=bearer)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == person.id
    assert answer.headers["cache-control"] == "no-store"


def test_oidcc_userinfo_post_header(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App, person: Person
) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    bearer = {"Authorization": f"Bearer {done.token['access_token']}"}
    answer = httpx.post(f"{server.url}/oauth2/userinfo/", headers=bearer)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == person.id


def test_oidcc_userinfo_post_body(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App, person: Person
) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    form = {"access_token": done.token["access_token"]}
    answer = httpx.post(f"{server.url}/oauth2/userinfo/", data=form)  # RFC 6750 §2.2
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == person.id


# -- the code and the token endpoint -----------------------------------------------------------


def test_oidcc_codereuse(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    started, answer = authorization(rp, browser, web_app.redirect_uri)
    code = query_of(answer.headers["location"])["code"]
    verifier = started["code_verifier"]
    first = exchange(browser.http, web_app, code, verifier)
    assert first.status_code == 200 and "id_token" in first.json()
    second = exchange(browser.http, web_app, code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code issued is revoked.
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert httpx.get(f"{server.url}/oauth2/userinfo/", headers=bearer).status_code == 401


def test_oidcc_ensure_registered_redirect_uri(
    rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    started = rp.create_authorization_url("https://attacker.example/callback")
    answer = browser.http.get(started["url"])
    assert answer.status_code == 400  # an error page, never a redirect
    assert "location" not in answer.headers


def test_oidcc_server_client_secret_post(
    server: LiveServer, browser: Browser, web_app: App, person: Person
) -> None:
    rp = relying_party(server.url, web_app, token_endpoint_auth_method="client_secret_post")
    done = sign_in(rp, browser, web_app.redirect_uri)
    assert done.claims["sub"] == person.id


def test_oidcc_refresh_token(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    refreshed = httpx.post(
        f"{server.url}/oauth2/token/",
        data={"grant_type": "refresh_token", "refresh_token": done.token["refresh_token"]},
        auth=web_app.auth,
    )
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()
    claims = rp.parse_id_token(token, nonce=None)  # OIDC Core §12.2: no nonce after a refresh
    assert claims["sub"] == done.claims["sub"]
    assert claims["auth_time"] == done.claims["auth_time"]
    assert claims["iss"] == done.claims["iss"] and claims["aud"] == done.claims["aud"]
    assert "nonce" not in claims


def test_refresh_without_openid_has_no_id_token(
    server: LiveServer, rp: RelyingParty, browser: Browser, web_app: App
) -> None:
    done = sign_in(rp, browser, web_app.redirect_uri)
    refreshed = httpx.post(
        f"{server.url}/oauth2/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": done.token["refresh_token"],
            "scope": "email",  # narrowed: no openid any more
        },
        auth=web_app.auth,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert "id_token" not in refreshed.json()


def test_public_app_with_pkce(
    server: LiveServer, db: Database, settings: Settings, service_id: str, browser: Browser
) -> None:
    app = make_app(db, settings, service_id, public=True)
    rp = relying_party(server.url, app)
    done = sign_in(rp, browser, "http://127.0.0.1:53117/callback")
    assert done.claims["aud"] == app.client_id
