"""RFC 8414 authorization server metadata (+ RFC 9207 §3), generated from the registrations.

Each list the metadata publishes is checked against what the server really does: every
grant type it names is dispatched by the token endpoint and every other one is
`unsupported_grant_type`; every authentication method it names authenticates a client and
an unnamed one does not; the PKCE methods it names are accepted and `plain` is not; the
scopes are the registry's. A grant registered on the server shows up without another edit.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import httpx
import pytest
from authlib.oauth2 import rfc8414, rfc9207
from authlib.oauth2.rfc6749 import grants

from c42.auth import scopes
from c42.auth.oauth import metadata as server_metadata
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oauth.server import OAuthServer
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, query_of

PATH = "/.well-known/oauth-authorization-server"
# Grant types a client might try (RFC 6749 §4, RFC 8628, RFC 7523, RFC 8693, implicit).
CANDIDATE_GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
)


@pytest.fixture
def published(client: httpx.Client) -> dict[str, Any]:
    answer = client.get(PATH)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_metadata(
    client: httpx.Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = client.get(PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    issuer = settings.issuer
    assert body["issuer"] == issuer
    assert body["authorization_endpoint"] == f"{issuer}/oauth2/authorize/"
    assert body["token_endpoint"] == f"{issuer}/oauth2/token/"
    assert body["revocation_endpoint"] == f"{issuer}/oauth2/revoke/"
    assert body["introspection_endpoint"] == f"{issuer}/oauth2/introspect/"
    assert body["response_types_supported"] == ["code"]  # no implicit grant
    assert set(body["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",  # RFC 8628, apps flagged --device
    }
    assert body["device_authorization_endpoint"] == f"{issuer}/oauth2/device_authorization/"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(body["introspection_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert body["authorization_response_iss_parameter_supported"] is True
    # Authlib's own validator of the RFC (it insists on https issuers; ours is loopback http
    # in tests, which RFC 8252 §8.3-style local development allows).
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    metadata = rfc8414.AuthorizationServerMetadata(body)
    metadata.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])


def test_scopes_are_the_registry(published: dict[str, Any]) -> None:
    assert published["scopes_supported"] == scopes.names()
    assert {"service.read", "service.write"} <= set(published["scopes_supported"])


def test_each_endpoint_answers(client: httpx.Client, settings: Settings) -> None:
    body = client.get(PATH).json()
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        path = body[key].removeprefix(settings.issuer)
        assert client.post(path, data={}).status_code in (400, 401), key
    authorize = body["authorization_endpoint"].removeprefix(settings.issuer)
    assert client.get(authorize).status_code == 400  # an error page, not a 404


@pytest.mark.parametrize("grant_type", CANDIDATE_GRANT_TYPES)
def test_grant_types_are_what_the_token_endpoint_dispatches(
    client: httpx.Client, web_app: App, published: dict[str, Any], grant_type: str
) -> None:
    """A published grant type is dispatched to its grant (which then finds the request
    lacking); any other is `unsupported_grant_type` (RFC 6749 §5.2)."""
    answer = client.post("/oauth2/token/", data={"grant_type": grant_type}, auth=web_app.auth)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    if grant_type in published["grant_types_supported"]:
        assert error != "unsupported_grant_type", grant_type
    else:
        assert error == "unsupported_grant_type", grant_type


def _authenticated_by(client: httpx.Client, method: str, app: App) -> httpx.Response:
    """A refresh request with a made-up refresh token, authenticated by `method`: a client
    that authenticated hears `invalid_grant`, otherwise `invalid_client`."""
    form = {"grant_type": "refresh_token", "refresh_token": secrets.token_urlsafe(32)}
    if method == "client_secret_basic":
        return client.post("/oauth2/token/", data=form, auth=app.auth)
    if method == "client_secret_post":
        assert app.client_secret is not None
        form |= {"client_id": app.client_id, "client_secret": app.client_secret}
        return client.post("/oauth2/token/", data=form)
    if method == "none":
        return client.post("/oauth2/token/", data={**form, "client_id": app.client_id})
    if method == "client_secret_jwt":  # RFC 7523 §2.2, never published
        assertion = base64.urlsafe_b64encode(b'{"alg":"HS256"}.{}.x').decode()
        form |= {
            "client_id": app.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        return client.post("/oauth2/token/", data=form)
    raise AssertionError(f"no test request for {method}")


def test_token_endpoint_auth_methods_each_authenticate(
    client: httpx.Client, web_app: App, native_app: App, published: dict[str, Any]
) -> None:
    methods = published["token_endpoint_auth_methods_supported"]
    for method in methods:
        app = native_app if method == "none" else web_app
        answer = _authenticated_by(client, method, app)
        assert answer.json().get("error") == "invalid_grant", (method, answer.text)
    for method in {"client_secret_jwt"} - set(methods):
        answer = _authenticated_by(client, method, web_app)
        assert answer.json().get("error") == "invalid_client", (method, answer.text)


def test_introspection_auth_methods(
    client: httpx.Client, web_app: App, native_app: App, published: dict[str, Any]
) -> None:
    """Introspection publishes no `none`: a public client is refused; the secret methods work."""
    methods = published["introspection_endpoint_auth_methods_supported"]
    assert "none" not in methods
    token = {"token": secrets.token_urlsafe(32)}
    public = client.post("/oauth2/introspect/", data={**token, "client_id": native_app.client_id})
    assert public.status_code == 401 and public.json()["error"] == "invalid_client"
    assert client.post("/oauth2/introspect/", data=token, auth=web_app.auth).json() == {
        "active": False
    }
    revoke_methods = published["revocation_endpoint_auth_methods_supported"]
    assert "none" in revoke_methods  # RFC 7009 §2.1: a public client revokes its own tokens
    answer = client.post("/oauth2/revoke/", data={**token, "client_id": native_app.client_id})
    assert answer.status_code == 200


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_code_challenge_methods(
    browser: Browser, native_app: App, published: dict[str, Any], method: str
) -> None:
    """A published PKCE method starts an authorization; `plain` (RFC 7636 §7.2) does not."""
    params = {
        "response_type": "code",
        "client_id": native_app.client_id,
        "redirect_uri": native_app.redirect_uri,
        "state": "s",
        "code_challenge": "x" * 43,
        "code_challenge_method": method,
    }
    answer = browser.authorize(params)
    if method in published["code_challenge_methods_supported"]:
        assert answer.status_code == 200 and 'id="consent-form"' in answer.text
    else:
        assert answer.status_code == 302
        assert query_of(answer.headers["location"])["error"] == "invalid_request"


def test_a_registered_grant_is_published(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated, not written: a grant the server registers appears in the metadata."""

    class WithClientCredentials(OAuthServer):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.register_grant(grants.ClientCredentialsGrant)

    config = OAuthConfig.from_settings(settings)
    before = server_metadata.authorization_server(config)
    monkeypatch.setattr(server_metadata, "OAuthServer", WithClientCredentials)
    after = server_metadata.authorization_server(config)
    assert "client_credentials" not in before["grant_types_supported"]
    assert after["grant_types_supported"] == [
        *before["grant_types_supported"],
        "client_credentials",
    ]
