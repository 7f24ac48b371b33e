"""RFC 8414 authorization server metadata (+ RFC 9207 §3)."""

from __future__ import annotations

import httpx
import pytest
from authlib.oauth2 import rfc8414, rfc9207

from c42.settings import Settings


def test_metadata(
    client: httpx.Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = client.get("/.well-known/oauth-authorization-server")
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
    assert set(body["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["scopes_supported"] == ["service.read", "service.write"]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert body["authorization_response_iss_parameter_supported"] is True
    # Authlib's own validator of the RFC (it insists on https issuers; ours is loopback http
    # in tests, which RFC 8252 §8.3-style local development allows).
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    metadata = rfc8414.AuthorizationServerMetadata(body)
    metadata.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])


def test_each_endpoint_answers(client: httpx.Client, settings: Settings) -> None:
    body = client.get("/.well-known/oauth-authorization-server").json()
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        path = body[key].removeprefix(settings.issuer)
        assert client.post(path, data={}).status_code in (400, 401), key
