"""CORS on the token and revocation endpoints (SPEC §5.3): exactly the registered origins of
public (JavaScript) apps, never `*`, never for confidential apps."""

from __future__ import annotations

import time

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, make_app, pkce

ORIGIN = "https://spa.example"


@pytest.fixture
def js_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(
        db,
        settings,
        service_id,
        public=True,
        redirect_uris=["https://spa.example/callback"],
        cors_origins=[ORIGIN],
    )


def _preflight(client: httpx.Client, path: str, origin: str) -> httpx.Response:
    """A preflight; for the registered origin, retried until the server's cached set of
    origins (re-read at most every credential cache time, 1 s) knows the new app."""
    deadline = time.monotonic() + 5
    while True:
        answer = _preflight_once(client, path, origin)
        if origin != ORIGIN or "access-control-allow-origin" in answer.headers:
            return answer
        if time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def _preflight_once(client: httpx.Client, path: str, origin: str) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize("path", ["/oauth2/token/", "/oauth2/revoke/"])
def test_preflight_for_registered_origin(client: httpx.Client, js_app: App, path: str) -> None:
    answer = _preflight(client, path, ORIGIN)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert "content-type" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://spa.example.evil.example", "http://spa.example", "null"],
)
def test_preflight_for_other_origins(client: httpx.Client, js_app: App, origin: str) -> None:
    answer = _preflight(client, "/oauth2/token/", origin)
    assert "access-control-allow-origin" not in answer.headers


def test_token_response_readable_by_the_apps_origin_only(
    browser: Browser, js_app: App, client: httpx.Client
) -> None:
    verifier, challenge = pkce()
    code = browser.code(js_app, challenge=challenge)
    answer = client.post(
        "/oauth2/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": js_app.redirect_uri,
            "client_id": js_app.client_id,
            "code_verifier": verifier,
        },
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    token = answer.json()
    # Errors are readable too, so the app can show them.
    failed = client.post(
        "/oauth2/token/",
        data={"grant_type": "authorization_code", "code": "x", "client_id": js_app.client_id},
        headers={"Origin": ORIGIN},
    )
    assert failed.status_code == 400
    assert failed.headers["access-control-allow-origin"] == ORIGIN
    other = client.post(
        "/oauth2/revoke/",
        data={"token": token["access_token"], "client_id": js_app.client_id},
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in other.headers
    revoked = client.post(
        "/oauth2/revoke/",
        data={"token": token["refresh_token"], "client_id": js_app.client_id},
        headers={"Origin": ORIGIN},
    )
    assert revoked.headers["access-control-allow-origin"] == ORIGIN


def test_no_cors_for_a_confidential_app(
    browser: Browser, web_app: App, js_app: App, client: httpx.Client
) -> None:
    """A registered origin of a public app does not make a confidential app's answer
    readable."""
    code = browser.code(web_app)
    answer = client.post(
        "/oauth2/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
        },
        auth=web_app.auth,
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_confidential_apps_cannot_register_origins(
    db: Database, settings: Settings, service_id: str
) -> None:
    from c42.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        make_app(db, settings, service_id, cors_origins=[ORIGIN])
    with pytest.raises(InvalidRequest):
        make_app(db, settings, service_id, public=True, cors_origins=["*"])
