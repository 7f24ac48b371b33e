"""RFC 9126 pushed authorization requests (SPEC §11): the client pushes its request (client
authentication as at the token endpoint), the browser goes to /oauth2/authorize/ with only
client_id and request_uri; the request_uri is single use, short-lived, bound to its client;
an app can require PAR; the metadata says where and that not every app must."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from c42.auth.oauth import par
from c42.cli.main import main
from c42.db import Database
from c42.models import OAuthPushedRequest, utcnow
from c42.settings import Settings, get_settings
from tests.factories import Person
from tests.oauth.helpers import App, Browser, exchange, make_app, pkce, query_of

PAR = "/oauth2/par/"


def push(client: httpx.Client, app: App, **params: str) -> httpx.Response:
    data = {"response_type": "code", "redirect_uri": app.redirect_uri, **params}
    if app.client_secret is None:
        return client.post(PAR, data={**data, "client_id": app.client_id})
    return client.post(PAR, data=data, auth=app.auth)


def pushed(client: httpx.Client, app: App, **params: str) -> str:
    answer = push(client, app, **params)
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["expires_in"] == par.LIFETIME == 60
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    return str(body["request_uri"])


def by_uri(browser: Browser, app: App, request_uri: str) -> httpx.Response:
    answer = browser.authorize({"client_id": app.client_id, "request_uri": request_uri})
    if answer.status_code == 200 and 'id="consent-form"' in answer.text:
        answer = browser.consent(answer, "allow")
    return answer


def test_pushed_request_runs_and_issues_tokens(
    client: httpx.Client, browser: Browser, web_app: App
) -> None:
    verifier, challenge = pkce()
    uri = pushed(
        client, web_app, scope="service.read", state="pushed-state",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    answer = by_uri(browser, web_app, uri)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == "pushed-state"  # the pushed parameters ran
    tokens = exchange(client, web_app, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "service.read"
    # Single use (RFC 9126 §2.2).
    again = browser.authorize({"client_id": web_app.client_id, "request_uri": uri})
    assert again.status_code == 400
    assert "no longer valid" in again.text


def test_login_round_trip_keeps_the_request_uri(
    client: httpx.Client, anonymous: Browser, native_app: App, person: Person
) -> None:
    _, challenge = pkce()
    uri = pushed(client, native_app, code_challenge=challenge, code_challenge_method="S256")
    first = anonymous.authorize({"client_id": native_app.client_id, "request_uri": uri})
    assert first.status_code == 302
    assert first.headers["location"].startswith("/accounts/login/")
    anonymous.login(person)
    answer = by_uri(anonymous, native_app, uri)
    assert answer.status_code == 302, answer.text
    assert "code" in query_of(answer.headers["location"])


def test_request_uri_of_another_client(
    client: httpx.Client, browser: Browser, web_app: App, native_app: App
) -> None:
    uri = pushed(client, web_app)
    refused = browser.authorize({"client_id": native_app.client_id, "request_uri": uri})
    assert refused.status_code == 400
    assert "location" not in refused.headers


def test_expired_request_uri(
    client: httpx.Client, browser: Browser, web_app: App, db: Database
) -> None:
    uri = pushed(client, web_app)
    with db.session() as session:
        session.execute(
            update(OAuthPushedRequest)
            .where(OAuthPushedRequest.app_id == web_app.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert by_uri(browser, web_app, uri).status_code == 400


def test_push_needs_client_authentication_and_a_valid_request(
    client: httpx.Client, web_app: App
) -> None:
    data = {"response_type": "code", "client_id": web_app.client_id}
    assert client.post(PAR, data=data).status_code == 401  # confidential: no secret
    assert push(client, web_app, request_uri="urn:x").json()["error"] == "invalid_request"
    bad = push(client, web_app, redirect_uri="https://evil.example/cb")
    assert bad.json()["error"] == "invalid_request"
    token = client.post(PAR, data={**data, "response_type": "token"}, auth=web_app.auth)
    assert token.json()["error"] == "unsupported_response_type"


def test_app_requiring_par(
    client: httpx.Client, browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(db, settings, service_id, require_par=True)
    plain = browser.authorize(
        {"response_type": "code", "client_id": app.client_id, "redirect_uri": app.redirect_uri}
    )
    assert plain.status_code == 400
    assert "location" not in plain.headers
    answer = by_uri(browser, app, pushed(client, app))
    assert answer.status_code == 302, answer.text
    assert "code" in query_of(answer.headers["location"])


def test_metadata(client: httpx.Client, settings: Settings) -> None:
    body = client.get("/.well-known/oauth-authorization-server").json()
    issuer = settings.issuer.rstrip("/")
    assert body["pushed_authorization_request_endpoint"] == f"{issuer}/oauth2/par/"
    assert body["require_pushed_authorization_requests"] is False


def test_cli_require_par_flag(
    settings: Settings,
    service_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def cli(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        shown: dict[str, Any] = json.loads(capsys.readouterr().out)
        return shown

    try:
        created = cli(
            "app", "create", "--service", service_id, "--name", "CLI PAR",
            "--redirect-uri", "https://par.example/cb", "--require-par",
        )  # fmt: skip
        assert cli("app", "show", created["client_id"])["require_par"] is True
        updated = cli("app", "update", created["client_id"], "--no-require-par")
        assert updated["require_par"] is False
    finally:
        get_settings.cache_clear()
