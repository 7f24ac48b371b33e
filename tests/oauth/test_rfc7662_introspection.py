"""RFC 7662 token introspection: authenticated clients, their own tokens only."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, exchange, make_app, pkce, refresh

INTROSPECT = "/oauth2/introspect/"


def _tokens(client: httpx.Client, browser: Browser, app: App, scope: str | None = None) -> Any:
    verifier, challenge = pkce()
    answer = exchange(client, app, browser.code(app, scope=scope, challenge=challenge), verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _introspect(client: httpx.Client, app: App, token: str, **form: str) -> httpx.Response:
    return client.post(INTROSPECT, data={"token": token, **form}, auth=app.auth)


def test_active_access_token(
    browser: Browser, web_app: App, client: httpx.Client, settings: Settings
) -> None:
    pair = _tokens(client, browser, web_app, scope="service.read service.write")
    answer = _introspect(client, web_app, pair["access_token"])
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["active"] is True
    assert body["scope"] == "service.read service.write"
    assert body["client_id"] == web_app.client_id
    assert body["token_type"] == "Bearer"
    assert body["sub"] == browser.person.id  # type: ignore[union-attr]
    assert body["iss"] == settings.issuer
    assert body["service_id"] == web_app.service_id
    now = time.time()
    assert body["iat"] <= now + 5
    assert abs(body["exp"] - (body["iat"] + settings.access_token_lifetime)) <= 1


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_active_refresh_token(
    browser: Browser, web_app: App, client: httpx.Client, hint: str | None
) -> None:
    pair = _tokens(client, browser, web_app)
    form = {"token_type_hint": hint} if hint else {}
    body = _introspect(client, web_app, pair["refresh_token"], **form).json()
    assert body["active"] is True
    assert "token_type" not in body


def test_inactive_after_revocation_and_rotation(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    pair = _tokens(client, browser, web_app)
    rotated = refresh(client, web_app, pair["refresh_token"]).json()
    assert _introspect(client, web_app, pair["refresh_token"]).json() == {"active": False}
    client.post("/oauth2/revoke/", data={"token": rotated["access_token"]}, auth=web_app.auth)
    assert _introspect(client, web_app, rotated["access_token"]).json() == {"active": False}


def test_unknown_token(web_app: App, client: httpx.Client) -> None:
    assert _introspect(client, web_app, "nope").json() == {"active": False}


def test_other_clients_token_is_inactive(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    other = make_app(db, settings, web_app.service_id)
    pair = _tokens(client, browser, web_app)
    assert _introspect(client, other, pair["access_token"]).json() == {"active": False}


def test_callers_must_authenticate(
    browser: Browser, web_app: App, native_app: App, client: httpx.Client
) -> None:
    pair = _tokens(client, browser, native_app)
    anonymous = client.post(INTROSPECT, data={"token": pair["access_token"]})
    assert anonymous.status_code == 401
    public = client.post(
        INTROSPECT, data={"token": pair["access_token"], "client_id": native_app.client_id}
    )
    assert public.status_code == 401  # a public client cannot prove who is asking
    assert public.json()["error"] == "invalid_client"
    wrong = client.post(
        INTROSPECT, data={"token": pair["access_token"]}, auth=(web_app.client_id, "x")
    )
    assert wrong.status_code == 401


def test_missing_token(web_app: App, client: httpx.Client) -> None:
    answer = client.post(INTROSPECT, data={}, auth=web_app.auth)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
