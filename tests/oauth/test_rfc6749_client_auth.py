"""RFC 6749 §2.3 / §2.3.1 / §5.2: client authentication at the token, revocation and
introspection endpoints, read strictly.

- HTTP Basic credentials that cannot be read (not base64, not UTF-8, no colon, bad
  percent-encoding, no client id) are 401 `invalid_client` with `WWW-Authenticate: Basic`,
  never a server error.
- client_id and secret are form-urlencoded inside Basic (§2.3.1), and decoded so.
- One client and one authentication method per request (§2.3): Basic plus a `client_secret`
  field, Basic plus another client's `client_id`, or two Authorization headers are 400
  `invalid_request`, and nothing is used up or revoked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, bearer, exchange, make_app

TOKEN, REVOKE, INTROSPECT = "/oauth2/token/", "/oauth2/revoke/", "/oauth2/introspect/"
ENDPOINTS = [TOKEN, REVOKE, INTROSPECT]


def _basic_raw(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def _basic(client_id: str, secret: str) -> str:
    return _basic_raw(f"{client_id}:{secret}".encode())


def _percent_all(value: str) -> str:
    return "".join(f"%{byte:02X}" for byte in value.encode())


UNREADABLE = {
    "not-utf8": "Basic //46/w==",  # b"\xff\xfe:\xff"
    "not-base64": "Basic !!!!",
    "no-padding": "Basic " + base64.b64encode(b"abc:defg").decode().rstrip("="),
    "space-inside": "Basic " + base64.b64encode(b"abc:def").decode()[:4] + " QQ==",
    "no-credentials": "Basic",
    "no-colon": _basic_raw(b"just-a-client-id"),
    "empty-client-id": _basic_raw(b":secret"),
    "bad-percent-encoding": _basic_raw(b"%FF%FE:secret"),
    "lower-case-scheme": "basic //46/w==",
    "not-ascii": b"Basic \xff\xfe",  # raw bytes, read as latin-1: no base64 at all (was a 500)
}


def _assert_error(answer: httpx.Response, error: str, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"


def _api(client: httpx.Client, access_token: str) -> int:
    headers = bearer(access_token)
    return client.get("/api/v2/calendars/", headers=headers).status_code


@pytest.fixture
def tokens(browser: Browser, web_app: App, client: httpx.Client) -> dict[str, Any]:
    answer = exchange(client, web_app, browser.code(web_app))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _form(path: str, tokens: dict[str, Any]) -> dict[str, str]:
    if path == TOKEN:
        return {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    return {"token": tokens["access_token"]}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("header", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_basic_credentials_are_invalid_client(
    web_app: App, client: httpx.Client, tokens: dict[str, Any], path: str, header: str
) -> None:
    answer = client.post(path, data=_form(path, tokens), headers={"Authorization": header})
    _assert_error(answer, "invalid_client", 401)
    assert answer.headers["www-authenticate"].startswith("Basic ")  # RFC 6749 §5.2
    assert _api(client, tokens["access_token"]) == 200  # nothing revoked or rotated


def test_unreadable_basic_credentials_beside_valid_post_credentials(
    web_app: App, client: httpx.Client, tokens: dict[str, Any]
) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    form |= {"client_id": web_app.client_id, "client_secret": web_app.client_secret or ""}
    answer = client.post(TOKEN, data=form, headers={"Authorization": UNREADABLE["not-utf8"]})
    _assert_error(answer, "invalid_client", 401)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_basic_credentials_are_form_urlencoded(
    web_app: App, client: httpx.Client, tokens: dict[str, Any], path: str
) -> None:
    # RFC 6749 §2.3.1: each of client_id and secret is form-urlencoded, then Basic-encoded.
    secret = web_app.client_secret or ""
    header = _basic(_percent_all(web_app.client_id), _percent_all(secret))
    answer = client.post(path, data=_form(path, tokens), headers={"Authorization": header})
    assert answer.status_code == 200, answer.text


# -- one client, one method (RFC 6749 §2.3) ------------------------------------------------


Mix = Callable[[App, App], tuple[dict[str, str], list[tuple[str, str]]]]
MIXES: dict[str, Mix] = {
    "basic-and-secret-field": lambda a, b: (
        {"client_secret": a.client_secret or ""},
        [("Authorization", _basic(a.client_id, a.client_secret or ""))],
    ),
    "basic-and-other-client-id": lambda a, b: (
        {"client_id": b.client_id},
        [("Authorization", _basic(a.client_id, a.client_secret or ""))],
    ),
    "basic-and-other-client-post-credentials": lambda a, b: (
        {"client_id": b.client_id, "client_secret": b.client_secret or ""},
        [("Authorization", _basic(a.client_id, a.client_secret or ""))],
    ),
    "two-authorization-headers": lambda a, b: (
        {},
        [
            ("Authorization", _basic(a.client_id, a.client_secret or "")),
            ("Authorization", _basic(b.client_id, b.client_secret or "")),
        ],
    ),
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
def test_two_identities_or_two_methods_are_invalid_request(
    web_app: App,
    client: httpx.Client,
    tokens: dict[str, Any],
    db: Database,
    settings: Settings,
    path: str,
    mix: Mix,
) -> None:
    other = make_app(db, settings, web_app.service_id)
    extra, headers = mix(web_app, other)
    answer = client.post(path, data={**_form(path, tokens), **extra}, headers=headers)
    _assert_error(answer, "invalid_request", 400)
    assert _api(client, tokens["access_token"]) == 200  # nothing revoked
    if path == TOKEN:  # the refresh token was not rotated: it still works once
        again = client.post(TOKEN, data=_form(TOKEN, tokens), auth=web_app.auth)
        assert again.status_code == 200, again.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_basic_with_the_same_client_id_in_the_body_is_one_identity(
    web_app: App, client: httpx.Client, tokens: dict[str, Any], path: str
) -> None:
    form = {**_form(path, tokens), "client_id": web_app.client_id}
    answer = client.post(path, data=form, auth=web_app.auth)
    assert answer.status_code == 200, answer.text


def test_public_app_client_id_with_a_confidential_apps_basic_credentials(
    web_app: App, native_app: App, client: httpx.Client
) -> None:
    form = {"token": "anything", "client_id": native_app.client_id}
    answer = client.post(REVOKE, data=form, auth=web_app.auth)
    _assert_error(answer, "invalid_request", 400)
