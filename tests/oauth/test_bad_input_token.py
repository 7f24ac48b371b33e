"""Bad text at the token, revocation and introspection endpoints (issue 10 items 5 and 7;
SPEC §6): a control character or invalid Unicode in any form field, name or value, is 400
`invalid_request` in RFC 6749 §5.2 JSON before anything reads the form — so a code is not
used up and nothing is issued — also on PostgreSQL, which refuses NUL; in HTTP Basic
credentials it names no client (401 `invalid_client`). Error descriptions never carry what
Authlib refuses (RFC 6749 §5.2 characters only)."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.oauth.helpers import App, Browser, exchange, pkce

DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §5.2
ENDPOINTS = ["/oauth2/token/", "/oauth2/revoke/", "/oauth2/introspect/"]
CONTROLS = {
    "nul": "\x00",
    "soh": "\x01",
    "tab": "\t",
    "lf": "\n",
    "cr": "\r",
    "esc": "\x1b",
    "del": "\x7f",
    "c1-nel": "\x85",
    "c1-csi": "\x9b",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _assert_oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"  # RFC 6749 §5.1
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    description = str(body.get("error_description", ""))
    assert not description or DESCRIPTION.fullmatch(description), body
    return description


def _form(app: App, endpoint: str) -> dict[str, str]:
    if endpoint == "/oauth2/token/":
        return {"grant_type": "authorization_code", "code": "c" * 43, "client_id": app.client_id}
    return {"token": "t" * 43, "client_id": app.client_id}


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_control_character_in_a_value(
    client: httpx.Client, web_app: App, endpoint: str, text: str
) -> None:
    for name in ("client_id", "client_secret", "grant_type", "token", "scope"):
        form = {**_form(web_app, endpoint), name: f"a{text}b"}
        answer = client.post(endpoint, data=form)
        description = _assert_oauth_error(answer, 400, "invalid_request")
        assert f"Parameter '{name}'" in description


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_control_character_in_a_name(
    client: httpx.Client, web_app: App, endpoint: str, text: str
) -> None:
    form = {**_form(web_app, endpoint), f"x{text}y": "1"}
    answer = client.post(endpoint, data=form)
    description = _assert_oauth_error(answer, 400, "invalid_request")
    assert "control character" in description


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_body_that_is_not_utf8_is_invalid_request(
    client: httpx.Client, web_app: App, endpoint: str
) -> None:
    for raw in (b"client_id=\xff", b"token=\xed\xa0\x80", b"\xc0\x80=1"):
        answer = client.post(endpoint, content=raw, headers=FORM)
        _assert_oauth_error(answer, 400, "invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_percent_encoded_bytes_that_are_not_utf8_are_replaced(
    client: httpx.Client, web_app: App, endpoint: str
) -> None:
    """Percent-encoded non-UTF-8 (an encoded surrogate too) decodes to U+FFFD, as urllib and
    Starlette read every query and form: accepted text that names no client."""
    for raw in (b"client_id=%FF", b"client_id=%ED%A0%80", b"client_id=%C0%80"):
        answer = client.post(endpoint, content=raw + b"&token=t&grant_type=x", headers=FORM)
        assert answer.status_code in (400, 401), answer.text
        _assert_oauth_error(answer, answer.status_code, answer.json()["error"])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_control_character_in_basic_credentials_names_no_client(
    client: httpx.Client, web_app: App, endpoint: str
) -> None:
    """The Basic user is looked up as a client_id only when it is accepted text (PostgreSQL
    refuses NUL): otherwise it names no client, 401 invalid_client (RFC 6749 §5.2)."""
    assert web_app.client_secret is not None
    for user in ("\x00", web_app.client_id + "\x00", "\x1b" + web_app.client_id):
        credentials = base64.b64encode(f"{user}:{web_app.client_secret}".encode()).decode()
        form = {k: v for k, v in _form(web_app, endpoint).items() if k != "client_id"}
        answer = client.post(endpoint, data=form, headers={"Authorization": f"Basic {credentials}"})
        _assert_oauth_error(answer, 401, "invalid_client")


def test_refused_form_does_not_use_the_code_up(
    client: httpx.Client, browser: Browser, native_app: App
) -> None:
    """The refusal comes before anything reads the request: the code stays redeemable."""
    verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    refused = exchange(client, native_app, code, verifier, state="x\x00")
    _assert_oauth_error(refused, 400, "invalid_request")
    answer = exchange(client, native_app, code, verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]


@pytest.mark.parametrize("name", ['"', "\\", "\u00e9", "a\x7fb", "x" * 300])
def test_repeated_odd_parameter_name_is_described_safely(
    client: httpx.Client, web_app: App, name: str
) -> None:
    """RFC 6749 §3.2: a repeated parameter is invalid_request, and its description names it
    without a character Authlib refuses (percent-encoded, shortened)."""
    form = [*_form(web_app, "/oauth2/token/").items(), (name, "1"), (name, "2")]
    answer = client.post("/oauth2/token/", content=urlencode(form), headers=FORM)
    _assert_oauth_error(answer, 400, "invalid_request")
