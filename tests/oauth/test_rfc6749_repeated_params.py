"""RFC 6749 §3.1 / §3.2: "Request and response parameters MUST NOT be included more than once",
on every OAuth endpoint. Every parameter counts, known or not (RFC 8707's `resource`, which may
repeat, is not offered).

Authorization endpoint: a repeated `client_id` or `redirect_uri` leaves the client or where to
send it unknown, so it is an error page (RFC 6749 §4.1.2.1); any other repeated parameter is a
redirect with `error=invalid_request` (without `state` when `state` itself repeats). Token,
revocation and introspection endpoints: RFC 6749 §5.2 JSON, 400 `invalid_request`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import (
    WEB_REDIRECT,
    App,
    Browser,
    exchange,
    pkce,
    query_of,
    token_request,
)
from tests.silent import helpers as silent

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _params(app: App, **extra: str) -> list[tuple[str, str]]:
    values = {"response_type": "code", "client_id": app.client_id, "state": "st-1"}
    return [*values.items(), ("redirect_uri", app.redirect_uri), *extra.items()]


def _authorize(browser: Browser, pairs: list[tuple[str, str]]) -> httpx.Response:
    return browser.http.get("/oauth2/authorize/?" + urlencode(pairs))


def _is_error_page(answer: httpx.Response) -> bool:
    return (
        answer.status_code == 400
        and "location" not in answer.headers
        and answer.headers["content-type"].startswith("text/html")
    )


def _redirected_error(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(WEB_REDIRECT + "?"), location
    query = query_of(location)
    assert "code" not in query
    return query


@pytest.mark.parametrize(
    "repeat",
    [
        ("client_id", None),  # the same value twice is still twice
        ("client_id", "0" * 32),
        ("redirect_uri", None),
        ("redirect_uri", "https://evil.example/callback"),
    ],
    ids=["client-id-same", "client-id-other", "redirect-uri-same", "redirect-uri-other"],
)
def test_repeated_client_or_redirect_uri_is_an_error_page(
    browser: Browser, web_app: App, repeat: tuple[str, str | None]
) -> None:
    name, other = repeat
    pairs = _params(web_app)
    pairs.append((name, other or dict(pairs)[name]))
    answer = _authorize(browser, pairs)
    assert _is_error_page(answer), (answer.status_code, answer.headers)
    assert "evil.example" not in answer.text


@pytest.mark.parametrize(
    "extra",
    [
        [("scope", "service.read"), ("scope", "service.write")],
        [("scope", "service.read"), ("scope", "service.read")],
        [("response_type", "code")],
        [("code_challenge_method", "S256"), ("code_challenge_method", "S256")],
        [("service_id", "x"), ("service_id", "y")],
        [("prompt", "none"), ("prompt", "login")],  # a parameter we do not even read
    ],
    ids=["scope", "scope-same", "response-type", "challenge-method", "service-id", "unknown"],
)
def test_other_repeated_parameters_redirect_invalid_request(
    browser: Browser, web_app: App, extra: list[tuple[str, str]]
) -> None:
    query = _redirected_error(_authorize(browser, _params(web_app) + extra))
    assert query["error"] == "invalid_request"
    assert query["state"] == "st-1"


def test_repeated_state_is_not_echoed(browser: Browser, web_app: App) -> None:
    query = _redirected_error(_authorize(browser, [*_params(web_app), ("state", "st-2")]))
    assert query["error"] == "invalid_request"
    assert "state" not in query  # no one value to send back


def test_refused_before_login(anonymous: Browser, web_app: App) -> None:
    answer = _authorize(anonymous, [*_params(web_app, scope="service.read"), ("scope", "x")])
    assert _redirected_error(answer)["error"] == "invalid_request"  # not the login page


def test_repeated_parameter_on_an_unregistered_redirect_uri_is_an_error_page(
    browser: Browser, web_app: App
) -> None:
    pairs = [(n, v) for n, v in _params(web_app) if n != "redirect_uri"]
    pairs += [("redirect_uri", "https://evil.example/cb"), ("scope", "a"), ("scope", "b")]
    assert _is_error_page(_authorize(browser, pairs))


def test_silent_request_with_two_addresses_issues_nothing(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    app = silent.make_app(db, settings, service_id)
    first, second = silent.address(), silent.address()
    pairs = [*silent.params(app, first).items(), ("email_address", second)]
    query = silent.redirect_of(client.get("/oauth2/authorize/?" + urlencode(pairs)), app)
    assert query["error"] == "invalid_request" and "code" not in query
    assert silent.sandbox_users(db, first) == [] and silent.sandbox_users(db, second) == []


# -- token, revocation, introspection ------------------------------------------------------


def _post(
    client: httpx.Client, path: str, pairs: list[tuple[str, str]], auth: tuple[str, str] | None
) -> httpx.Response:
    return client.post(path, content=urlencode(pairs), headers=FORM, auth=auth)


def _assert_invalid_request(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", ["grant_type", "code", "redirect_uri", "code_verifier", "x"])
def test_token_endpoint(browser: Browser, web_app: App, client: httpx.Client, name: str) -> None:
    verifier, challenge = pkce()
    code = browser.code(web_app, challenge=challenge)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": web_app.redirect_uri}
    form |= {"code_verifier": verifier, "x": "1"}
    pairs = [*form.items(), (name, form[name])]
    _assert_invalid_request(_post(client, "/oauth2/token/", pairs, web_app.auth))
    assert exchange(client, web_app, code, verifier).status_code == 200  # the code was not used


def test_token_endpoint_repeated_client_id_of_a_public_app(
    browser: Browser, native_app: App, client: httpx.Client
) -> None:
    verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    form["redirect_uri"] = native_app.redirect_uri
    pairs = [*form.items(), ("client_id", native_app.client_id), ("client_id", "0" * 32)]
    _assert_invalid_request(_post(client, "/oauth2/token/", pairs, None))
    assert token_request(client, native_app, form).status_code == 200


def _tokens(client: httpx.Client, browser: Browser, app: App) -> dict[str, str]:
    answer = exchange(client, app, browser.code(app))
    assert answer.status_code == 200, answer.text
    result: dict[str, str] = answer.json()
    return result


def _api(client: httpx.Client, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return client.get("/api/v2/calendars/", headers=headers).status_code


@pytest.mark.parametrize("name", ["token", "token_type_hint"])
def test_revocation_endpoint(
    browser: Browser, web_app: App, client: httpx.Client, name: str
) -> None:
    pair = _tokens(client, browser, web_app)
    form = {"token": pair["access_token"], "token_type_hint": "access_token"}
    pairs = [*form.items(), (name, form[name])]
    _assert_invalid_request(_post(client, "/oauth2/revoke/", pairs, web_app.auth))
    assert _api(client, pair["access_token"]) == 200  # not revoked


def test_introspection_endpoint(browser: Browser, web_app: App, client: httpx.Client) -> None:
    pair = _tokens(client, browser, web_app)
    pairs = [("token", pair["access_token"]), ("token", pair["refresh_token"])]
    answer = _post(client, "/oauth2/introspect/", pairs, web_app.auth)
    _assert_invalid_request(answer)
    assert "active" not in answer.json()
