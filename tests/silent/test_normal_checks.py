"""Every check of the normal authorization flow applies to a silent request too (SPEC §5.4:
"PKCE as for any request"): client_id, exact redirect URI (else an error page, never a
redirect), response_type, C42's service_id, PKCE S256, repeated parameters."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.factories import Factory
from tests.silent.helpers import (
    App,
    address,
    bearer,
    exchange,
    make_app,
    params,
    pkce,
    redirect_of,
    sandbox_users,
    silent,
)


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "0" * 32},
        {"client_id": ""},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "https://silent-client.example/callback/"},
        {"redirect_uri": "https://silent-client.example/callback?x=1"},
        {"redirect_uri": "https://SILENT-client.example/callback"},
    ],
    ids=[
        "unknown-client",
        "empty-client",
        "foreign-redirect",
        "trailing-slash",
        "extra-query",
        "case-changed-host",
    ],
)
def test_invalid_client_or_redirect_uri_shows_an_error_page(
    client: httpx.Client, db: Database, app: App, change: dict[str, str]
) -> None:
    email = address()
    response = client.get(
        "/oauth2/authorize/",
        params={**params(app, email), **change},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 400
    assert "location" not in response.headers  # RFC 6749 §4.1.2.1: never redirect
    assert "evil.example" not in response.text
    assert sandbox_users(db, email) == []


def test_the_only_registered_redirect_uri_is_the_default(client: httpx.Client, app: App) -> None:
    sent = params(app, address())
    del sent["redirect_uri"]
    query = redirect_of(client.get("/oauth2/authorize/", params=sent), app)
    assert "code" in query
    form = {"grant_type": "authorization_code", "code": query["code"]}
    token = client.post("/oauth2/token/", data=form, auth=app.auth)
    assert token.status_code == 200, token.text


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", ""])
def test_response_type_must_be_code(
    client: httpx.Client, db: Database, app: App, response_type: str
) -> None:
    email = address()
    query = silent(client, app, email, response_type=response_type)
    assert query["error"] == "unsupported_response_type"
    assert "code" not in query and sandbox_users(db, email) == []


def test_service_id_must_match_the_apps_service(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> None:
    email = address()
    other = factory.service("Other")
    assert silent(client, app, email, service_id=other)["error"] == "invalid_request"
    assert sandbox_users(db, email) == []
    assert "code" in silent(client, app, email, service_id=app.service_id)


def test_pkce_plain_is_refused(client: httpx.Client, db: Database, app: App) -> None:
    email = address()
    query = silent(client, app, email, code_challenge="a" * 43, code_challenge_method="plain")
    assert query["error"] == "invalid_request"
    assert sandbox_users(db, email) == []


def test_pkce_is_enforced_when_a_challenge_was_sent(client: httpx.Client, app: App) -> None:
    verifier, challenge = pkce()
    sent = {"code_challenge": challenge, "code_challenge_method": "S256"}
    query = silent(client, app, address(), **sent)
    missing = exchange(client, app, query["code"])
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    query = silent(client, app, address(), **sent)
    wrong = exchange(client, app, query["code"], code_verifier=pkce()[0])
    assert wrong.json()["error"] == "invalid_grant"
    query = silent(client, app, address(), **sent)
    good = exchange(client, app, query["code"], code_verifier=verifier)
    assert good.status_code == 200, good.text
    assert client.get("/api/v2/events/", headers=bearer(good.json())).status_code == 200


def test_an_app_that_requires_pkce_needs_a_challenge(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    strict = make_app(db, settings, service_id, require_pkce=True)
    email = address()
    assert silent(client, strict, email)["error"] == "invalid_request"
    assert sandbox_users(db, email) == []
    _, challenge = pkce()
    query = silent(client, strict, email, code_challenge=challenge, code_challenge_method="S256")
    assert "code" in query


@pytest.mark.parametrize("name", ["scope", "email_address"])
def test_repeated_parameters_are_refused(
    client: httpx.Client, db: Database, app: App, name: str
) -> None:
    # RFC 6749 §3.1; the client and redirect URI are valid, so the client hears of it.
    email = address()
    sent = [*params(app, email).items(), (name, address() if name == "email_address" else "x")]
    query = redirect_of(client.get("/oauth2/authorize/?" + urlencode(sent)), app)
    assert query["error"] == "invalid_request" and "code" not in query
    assert sandbox_users(db, email) == []


def test_the_token_endpoint_checks_the_client_secret(client: httpx.Client, app: App) -> None:
    query = silent(client, app, address())
    form = {"grant_type": "authorization_code", "code": query["code"]}
    form["redirect_uri"] = app.redirect_uri
    bad = client.post("/oauth2/token/", data=form, auth=(app.client_id, "wrong-secret"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    anonymous = client.post("/oauth2/token/", data={**form, "client_id": app.client_id})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
