"""RFC 6749 §3.1 / §4.1.1-§4.1.2 (+ RFC 9207 `iss`): the authorization endpoint, on the wire."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import (
    WEB_REDIRECT,
    App,
    Browser,
    csrf_of,
    make_app,
    new_browser,
    pkce,
    query_of,
)


def _params(app: App, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "st-123",
        **extra,
    }


def _is_error_page(response: httpx.Response) -> bool:
    return (
        response.status_code == 400
        and "location" not in response.headers
        and response.headers["content-type"].startswith("text/html")
    )


# RFC 6749 §3.1.2.3 / RFC 9700 §4.1.3: exact string match; anything else gets an error page,
# never a redirect (RFC 6749 §4.1.2.1). Registered: https://client.example/callback
REDIRECT_TRICKS = {
    "other-host": "https://evil.example/callback",
    "longer-path": "https://client.example/callback/extra",
    "suffix": "https://client.example/callbackx",
    "shorter-path": "https://client.example/",
    "host-case": "https://CLIENT.example/callback",
    "path-case": "https://client.example/Callback",
    "http-scheme": "http://client.example/callback",
    "other-port": "https://client.example:8443/callback",
    "explicit-default-port": "https://client.example:443/callback",
    "added-query": "https://client.example/callback?next=https://evil.example",
    "fragment": "https://client.example/callback#x",
    "userinfo": "https://client.example@evil.example/callback",
    "subdomain-suffix": "https://client.example.evil.example/callback",
    "trailing-dot": "https://client.example./callback",
    "percent-encoded": "https://client.example/%63allback",
    "dot-segment": "https://client.example/x/../callback",
}


@pytest.mark.parametrize("requested", REDIRECT_TRICKS.values(), ids=REDIRECT_TRICKS.keys())
def test_unregistered_redirect_uri_gets_an_error_page(
    browser: Browser, web_app: App, requested: str
) -> None:
    answer = browser.authorize(_params(web_app, redirect_uri=requested))
    assert _is_error_page(answer), (answer.status_code, answer.headers)
    if requested:
        assert requested not in answer.text  # the page never echoes the attacker's URI


def test_unregistered_redirect_uri_gets_an_error_page_before_login(
    anonymous: Browser, web_app: App
) -> None:
    answer = anonymous.authorize(_params(web_app, redirect_uri="https://evil.example/cb"))
    assert _is_error_page(answer)


@pytest.mark.parametrize(
    "change",
    [{"client_id": "unknown-client"}, {"client_id": ""}, {"client_id": "x" * 500}],
    ids=["unknown", "empty", "huge"],
)
def test_unknown_client_gets_an_error_page(
    browser: Browser, web_app: App, change: dict[str, str]
) -> None:
    assert _is_error_page(browser.authorize(_params(web_app, **change)))


def test_missing_client_id_gets_an_error_page(browser: Browser, web_app: App) -> None:
    params = _params(web_app)
    del params["client_id"]
    assert _is_error_page(browser.authorize(params))


def test_registered_query_must_match_exactly(
    browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(db, settings, service_id, redirect_uris=["https://c.example/cb?tenant=1"])
    ok = browser.authorize(_params(app))
    assert ok.status_code == 200 and 'id="consent-form"' in ok.text
    for other in ("https://c.example/cb?tenant=2", "https://c.example/cb?tenant=1&x=2"):
        assert _is_error_page(browser.authorize(_params(app, redirect_uri=other)))
    code = browser.code(app)
    assert code


def test_missing_redirect_uri_with_one_registered_uses_it(browser: Browser, web_app: App) -> None:
    params = _params(web_app)
    del params["redirect_uri"]
    page = browser.authorize(params)
    answer = browser.consent(page, "allow")
    assert answer.headers["location"].startswith(WEB_REDIRECT + "?")


def test_missing_redirect_uri_with_several_registered_is_an_error_page(
    browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(
        db, settings, service_id, redirect_uris=["https://a.example/cb", "https://b.example/cb"]
    )
    params = _params(app)
    del params["redirect_uri"]
    assert _is_error_page(browser.authorize(params))


def test_not_logged_in_goes_to_login_with_next(
    anonymous: Browser, web_app: App, person: object
) -> None:
    params = _params(web_app, scope="service.read")
    answer = anonymous.authorize(params)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("/accounts/login/?next=")
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    assert next_url.startswith("/oauth2/authorize/?")
    assert query_of(next_url) == params
    # The login page keeps `next` and offers registration that keeps it too.
    login_page = anonymous.http.get(location)
    assert login_page.status_code == 200
    assert "/accounts/register/?next=" in login_page.text


def test_login_then_consent_then_code(
    anonymous: Browser, web_app: App, person: object, settings: Settings
) -> None:
    from tests.factories import Person

    assert isinstance(person, Person)
    params = _params(web_app)
    login_url = anonymous.authorize(params).headers["location"]
    page = anonymous.http.get(login_url)
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    posted = anonymous.http.post(
        "/accounts/login/",
        data={
            "csrf_token": csrf_of(page.text),
            "email": person.email,
            "password": person.password or "",
            "next": next_url,
        },
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == next_url
    consent = anonymous.http.get(next_url)
    answer = anonymous.consent(consent, "allow")
    query = query_of(answer.headers["location"])
    assert set(query) == {"code", "state", "iss"}
    assert query["iss"] == settings.issuer


def test_consent_page_contract(browser: Browser, web_app: App) -> None:
    page = browser.authorize(_params(web_app, scope="service.read service.write"))
    assert page.status_code == 200
    html = page.text
    assert '<form id="consent-form" method="post" action="/oauth2/authorize/">' in html
    assert '<button class="button" type="submit" name="decision" value="allow">' in html
    assert 'name="decision" value="deny"' in html
    assert 'name="csrf_token"' in html
    assert "OAuth Test Service" in html  # the service
    assert 'data-scope="service.read"' in html and 'data-scope="service.write"' in html
    assert "See your calendars and events related to OAuth Test Service." in html
    # The form carries back only its CSRF token and the sealed request (test_consent_integrity).
    hidden = re.findall(r'<input type="hidden" name="([^"]+)"', html)
    assert sorted(hidden) == ["consent_request", "csrf_token"]
    assert page.headers["x-frame-options"] == "DENY"  # RFC 6749 §10.13
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://client.example" in csp
    assert "frame-ancestors 'none'" in csp


def test_allow_redirects_with_code_state_and_iss(
    browser: Browser, web_app: App, settings: Settings
) -> None:
    answer = browser.consent(browser.authorize(_params(web_app)), "allow")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(WEB_REDIRECT + "?")
    query = query_of(location)
    assert query["state"] == "st-123"
    assert query["iss"] == settings.issuer  # RFC 9207 §2
    assert len(query["code"]) >= 40
    assert answer.headers["cache-control"] == "no-store"


def test_deny_redirects_with_access_denied(
    browser: Browser, web_app: App, settings: Settings
) -> None:
    answer = browser.consent(browser.authorize(_params(web_app)), "deny")
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["error"] == "access_denied"  # RFC 6749 §4.1.2.1
    assert query["state"] == "st-123"
    assert query["iss"] == settings.issuer
    assert "code" not in query


def test_consent_post_without_csrf_is_refused(browser: Browser, web_app: App) -> None:
    page = browser.authorize(_params(web_app))
    form = {**_params(web_app), "decision": "allow"}
    answer = browser.http.post("/oauth2/authorize/", data=form)
    assert answer.status_code == 403
    assert "location" not in answer.headers
    form["csrf_token"] = "forged" + csrf_of(page.text)
    assert browser.http.post("/oauth2/authorize/", data=form).status_code == 403


def test_consent_post_without_session_is_refused(anonymous: Browser, web_app: App) -> None:
    page = anonymous.http.get("/accounts/login/")  # a session with a CSRF token, no user
    form = {**_params(web_app), "decision": "allow", "csrf_token": csrf_of(page.text)}
    answer = anonymous.http.post("/oauth2/authorize/", data=form)
    assert _is_error_page(answer)  # no consent page was shown to anyone: nothing to answer


def test_unknown_decision_is_an_error_page(browser: Browser, web_app: App) -> None:
    page = browser.authorize(_params(web_app))
    answer = browser.consent(page, "maybe")
    assert _is_error_page(answer)


def test_confidential_app_consent_is_remembered(browser: Browser, web_app: App) -> None:
    browser.code(web_app, scope="service.read service.write")
    again = browser.authorize(_params(web_app, scope="service.read"))
    assert again.status_code == 302  # same or narrower scope: no page
    assert "code" in query_of(again.headers["location"])


def test_wider_scope_asks_again(browser: Browser, web_app: App) -> None:
    browser.code(web_app, scope="service.read")
    again = browser.authorize(_params(web_app, scope="service.read service.write"))
    assert again.status_code == 200 and 'id="consent-form"' in again.text


def test_public_app_always_shows_the_consent_page(browser: Browser, native_app: App) -> None:
    _, challenge = pkce()
    browser.code(native_app, challenge=challenge)
    again = browser.authorize(
        _params(native_app, code_challenge=challenge, code_challenge_method="S256")
    )
    assert again.status_code == 200  # RFC 6749 §10.2 / RFC 8252 §8.6
    assert 'id="consent-form"' in again.text
    assert "cannot confirm who made it" in again.text


# Errors once client and redirect URI are valid are redirected, with state and iss.
REDIRECTED_ERRORS = {
    "unknown-scope": ({"scope": "admin"}, "invalid_scope"),
    "mixed-unknown-scope": ({"scope": "service.read admin"}, "invalid_scope"),
    "implicit-grant": ({"response_type": "token"}, "unsupported_response_type"),
    "hybrid": ({"response_type": "code token"}, "unsupported_response_type"),
    "service-id-mismatch": ({"service_id": "0" * 32}, "invalid_request"),
    "plain-pkce": (
        {"code_challenge": "a" * 43, "code_challenge_method": "plain"},
        "invalid_request",
    ),
}


@pytest.mark.parametrize(
    ("extra", "error"), REDIRECTED_ERRORS.values(), ids=REDIRECTED_ERRORS.keys()
)
def test_invalid_request_redirects_with_error(
    browser: Browser, web_app: App, settings: Settings, extra: dict[str, str], error: str
) -> None:
    answer = browser.authorize(_params(web_app, **extra))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(WEB_REDIRECT + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["state"] == "st-123"
    assert query["iss"] == settings.issuer


def test_scope_the_app_may_not_ask_for(
    browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(db, settings, service_id, scopes=("service.read",))
    answer = browser.authorize(_params(app, scope="service.write"))
    assert query_of(answer.headers["location"])["error"] == "invalid_scope"


# Repeated parameters: tests/oauth/test_rfc6749_repeated_params.py


def test_repeated_code_challenge_is_redirected_as_invalid_request(
    browser: Browser, web_app: App
) -> None:
    _, challenge = pkce()
    params = [*_params(web_app, code_challenge_method="S256").items()]
    params += [("code_challenge", challenge), ("code_challenge", challenge)]
    answer = browser.http.get(httpx.URL("/oauth2/authorize/", params=params))
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


def test_matching_service_id_is_accepted(browser: Browser, web_app: App) -> None:
    assert browser.code(web_app, extra={"service_id": web_app.service_id})


def test_default_scope_is_service_read(browser: Browser, web_app: App) -> None:
    page = browser.authorize(_params(web_app))
    assert 'data-scope="service.read"' in page.text
    assert 'data-scope="service.write"' not in page.text


def test_trailing_slash_optional(anonymous: Browser, web_app: App) -> None:
    answer = anonymous.http.get("/oauth2/authorize", params=_params(web_app))
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/accounts/login/")


def test_fresh_browser_fixture_is_isolated(server: object) -> None:
    b = new_browser(server.url)  # type: ignore[attr-defined]
    assert b.http.get("/account/apps/").status_code == 302
    b.http.close()
