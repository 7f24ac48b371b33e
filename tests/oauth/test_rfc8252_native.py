"""RFC 8252 §7.3 loopback redirects (any port, public native apps only) and §7.1 private-use
URI schemes; everything else is matched exactly."""

from __future__ import annotations

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, exchange, make_app, pkce, query_of, token_request

REGISTERED = [
    "http://127.0.0.1/callback",
    "http://[::1]/callback",
    "http://localhost/callback",
    "com.example.native:/oauth/callback",
]
ACCEPTED = {
    "ipv4-any-port": "http://127.0.0.1:51004/callback",
    "ipv4-no-port": "http://127.0.0.1/callback",
    "ipv6-any-port": "http://[::1]:61023/callback",
    "localhost-any-port": "http://localhost:8765/callback",
    "private-use-scheme": "com.example.native:/oauth/callback",
}
REFUSED = {
    "other-path": "http://127.0.0.1:5000/other",
    "trailing-slash": "http://127.0.0.1:5000/callback/",
    "added-query": "http://127.0.0.1:5000/callback?x=1",
    "other-loopback-ip": "http://127.0.0.2:5000/callback",
    "host-suffix": "http://127.0.0.1.nip.io:5000/callback",
    "userinfo": "http://127.0.0.1:5000@evil.example/callback",
    "https-loopback": "https://127.0.0.1:5000/callback",
    "port-zero": "http://127.0.0.1:0/callback",
    "port-too-big": "http://127.0.0.1:99999/callback",
    "fragment": "http://127.0.0.1:5000/callback#x",
    "other-scheme-path": "com.example.native:/other",
    "lookalike-scheme": "com.example.native.evil:/oauth/callback",
}


@pytest.fixture
def loopback_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, public=True, redirect_uris=REGISTERED)


def _params(app: App, redirect_uri: str) -> dict[str, str]:
    _, challenge = pkce()
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "state": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


@pytest.mark.parametrize("uri", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(browser: Browser, loopback_app: App, uri: str) -> None:
    page = browser.authorize(_params(loopback_app, uri))
    assert page.status_code == 200, page.text
    answer = browser.consent(page, "allow")
    assert answer.headers["location"].startswith(uri + "?")


@pytest.mark.parametrize("uri", REFUSED.values(), ids=REFUSED.keys())
def test_refused(browser: Browser, loopback_app: App, uri: str) -> None:
    answer = browser.authorize(_params(loopback_app, uri))
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_any_port_is_for_public_apps_only(
    browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(db, settings, service_id, redirect_uris=["http://127.0.0.1/callback"])
    assert browser.authorize(_params(app, "http://127.0.0.1:5000/callback")).status_code == 400
    assert browser.authorize(_params(app, "http://127.0.0.1/callback")).status_code == 200


def test_token_request_repeats_the_port(
    browser: Browser, loopback_app: App, client: httpx.Client
) -> None:
    verifier, challenge = pkce()
    uri = "http://127.0.0.1:40123/callback"
    code = browser.code(loopback_app, challenge=challenge, redirect_uri=uri)
    other_port = token_request(
        client,
        loopback_app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:40124/callback",
            "code_verifier": verifier,
        },
    )
    assert other_port.json()["error"] == "invalid_grant"
    # That failed redemption used the code up (RFC 9700 §4.8); the same port redeems a new one.
    loopback_app.redirect_uris = [uri]
    assert exchange(client, loopback_app, code, verifier).json()["error"] == "invalid_grant"
    code = browser.code(loopback_app, challenge=challenge, redirect_uri=uri)
    assert exchange(client, loopback_app, code, verifier).status_code == 200


def test_public_app_cannot_authenticate_with_a_secret(
    browser: Browser, native_app: App, client: httpx.Client
) -> None:
    verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    answer = client.post(
        "/oauth2/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": native_app.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(native_app.client_id, "made-up-secret"),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_error_redirect_goes_to_the_loopback_port(browser: Browser, loopback_app: App) -> None:
    params = _params(loopback_app, "http://127.0.0.1:41000/callback")
    params["scope"] = "nope"
    answer = browser.authorize(params)
    assert answer.headers["location"].startswith("http://127.0.0.1:41000/callback?")
    assert query_of(answer.headers["location"])["error"] == "invalid_scope"
