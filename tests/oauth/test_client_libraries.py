"""End to end with real OAuth client libraries against the live server: a confidential web
server app with requests-oauthlib, and a native public app with Authlib's requests client,
PKCE and a loopback redirect on a random port (RFC 8252 §7.3) received by a real local HTTP
listener."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Person
from tests.oauth.helpers import App, Browser, Listener, make_app, query_of


def _follow_consent(browser: Browser, authorization_url: str) -> str:
    """The user's part: open the URL (logged in), press Allow; returns the redirect target."""
    page = browser.http.get(authorization_url)
    answer = browser.consent(page, "allow") if page.status_code == 200 else page
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def test_web_server_app_with_requests_oauthlib(
    server: LiveServer,
    browser: Browser,
    web_app: App,
    person: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server is plain http
    token_url = f"{server.url}/oauth2/token/"
    session = OAuth2Session(
        web_app.client_id,
        redirect_uri=web_app.redirect_uri,
        scope=["service.read", "service.write"],
    )
    url, _state = session.authorization_url(
        f"{server.url}/oauth2/authorize/", service_id=web_app.service_id
    )
    callback = _follow_consent(browser, url)
    token = session.fetch_token(
        token_url,
        authorization_response=callback,
        client_secret=web_app.client_secret,
        include_client_id=False,  # HTTP Basic (client_secret_basic)
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"]) == {"service.read", "service.write"}
    # The API, restricted to the app's service.
    made = session.post(f"{server.url}/api/v2/calendars/", json={"name": "From the app"})
    assert made.status_code == 201, made.text
    assert made.json()["data"][0]["service_id"] == web_app.service_id
    private = requests.post(
        f"{server.url}/api/v2/calendars/",
        json={"name": "Private"},
        headers=person.headers,
        timeout=30,
    ).json()["data"][0]
    listed = session.get(f"{server.url}/api/v2/calendars/").json()["data"]
    ids = {item["id"] for item in listed}
    assert made.json()["data"][0]["id"] in ids and private["id"] not in ids
    # Refresh (rotation), then revoke.
    old_refresh = token["refresh_token"]
    new = session.refresh_token(token_url, auth=(web_app.client_id, web_app.client_secret))
    assert new["refresh_token"] != old_refresh
    assert session.get(f"{server.url}/api/v2/calendars/").status_code == 200
    revoked = requests.post(
        f"{server.url}/oauth2/revoke/",
        data={"token": new["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(web_app.client_id, web_app.client_secret or ""),
        timeout=30,
    )
    assert revoked.status_code == 200
    after = session.get(f"{server.url}/api/v2/calendars/")
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]


@pytest.fixture
def loopback_listener() -> Iterator[tuple[int, list[str]]]:
    """What a native app does: listen on an ephemeral loopback port for the redirect."""
    with Listener() as listener:
        yield listener.port, listener.received


def test_native_app_with_authlib_pkce_and_loopback(
    server: LiveServer,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
    loopback_listener: tuple[int, list[str]],
) -> None:
    port, received = loopback_listener
    app = make_app(db, settings, service_id, public=True)  # registered without a port
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    client = AuthlibSession(
        app.client_id,
        redirect_uri=redirect_uri,
        scope="service.read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43-128 unreserved characters
    url, state = client.create_authorization_url(
        f"{server.url}/oauth2/authorize/", code_verifier=verifier
    )
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    location = _follow_consent(browser, url)
    assert location.startswith(redirect_uri + "?")
    # The browser follows the redirect to the app's loopback listener.
    assert httpx.get(location).status_code == 200
    callback = f"http://127.0.0.1:{port}{received[0]}"
    assert query_of(callback)["iss"] == settings.issuer  # RFC 9207: the app can check it
    token = client.fetch_token(
        f"{server.url}/oauth2/token/",
        authorization_response=callback,
        code_verifier=verifier,
        state=state,
    )
    assert token["scope"] == "service.read"
    api = client.get(f"{server.url}/api/v2/events/")
    assert api.status_code == 200
    writes = client.post(f"{server.url}/api/v2/calendars/", json={"name": "x"})
    assert writes.status_code == 403  # service.read only
    refreshed = client.refresh_token(f"{server.url}/oauth2/token/")
    assert refreshed["access_token"] != token["access_token"]
    client.close()
