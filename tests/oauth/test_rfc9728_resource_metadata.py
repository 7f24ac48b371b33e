"""RFC 9728 protected resource metadata of the API, and the `resource_metadata` parameter of
its 401 challenges: a client that knows nothing but the API's address finds the
authorization server by following the challenge."""

from __future__ import annotations

import re

import httpx
import pytest

from c42.auth import scopes
from c42.auth.oauth import metadata
from c42.auth.oauth.config import OAuthConfig
from c42.settings import Settings
from tests.factories import Person

PATH = "/.well-known/oauth-protected-resource"
API = "/api/v2/calendars/"
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _bearer_params(challenge: str) -> dict[str, str]:
    """The auth-params of the Bearer challenge (the last one of the header)."""
    assert "Bearer " in challenge, challenge
    return dict(_PARAM.findall(challenge.rsplit("Bearer ", 1)[1]))


def test_metadata_document(client: httpx.Client, settings: Settings) -> None:
    answer = client.get(PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    issuer = settings.issuer.rstrip("/")
    assert body["resource"] == issuer  # RFC 9728 §3.3: equals the identifier it was fetched for
    assert body["authorization_servers"] == [issuer]
    assert body["scopes_supported"] == scopes.names()
    assert "header" in body["bearer_methods_supported"]
    assert body["resource_documentation"] == issuer + "/api/docs"
    # RFC 9728 §2 (SPEC §11): the DPoP proof algorithms; DPoP accepted, not required.
    assert body["dpop_signing_alg_values_supported"] == [
        "ES256",
        "ES384",
        "ES512",
        "PS256",
        "RS256",
        "Ed25519",
    ]
    assert body["dpop_bound_access_tokens_required"] is False
    # The authorization server it names publishes RFC 8414 metadata with that issuer.
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == body["authorization_servers"][0]


def test_query_method_follows_the_setting(settings: Settings) -> None:
    config = OAuthConfig.from_settings(settings)
    assert metadata.protected_resource(config, query_tokens=False)["bearer_methods_supported"] == [
        "header"
    ]
    assert metadata.protected_resource(config, query_tokens=True)["bearer_methods_supported"] == [
        "header",
        "query",
    ]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),  # no credential: no error code (RFC 6750 §3.1)
        ({"Authorization": "Bearer not-a-real-token"}, "invalid_token"),
        ({"Authorization": "Weird abc"}, None),
    ],
)
def test_401_challenge_names_the_metadata(
    client: httpx.Client, settings: Settings, headers: dict[str, str], error: str | None
) -> None:
    answer = client.get(API, headers=headers)
    assert answer.status_code == 401
    params = _bearer_params(answer.headers["www-authenticate"])
    assert params["resource_metadata"] == settings.issuer.rstrip("/") + PATH
    assert params.get("error") == error
    # Following it (RFC 9728 §5.2) gives the document of this resource.
    followed = client.get(params["resource_metadata"].removeprefix(settings.issuer.rstrip("/")))
    assert followed.json()["resource"] == settings.issuer.rstrip("/")


def test_no_challenge_parameter_on_success_or_on_other_pages(
    client: httpx.Client, person: Person
) -> None:
    ok = client.get(API, headers=person.headers)
    assert ok.status_code == 200
    assert "www-authenticate" not in ok.headers
    # The OAuth token endpoint's own 401 (client authentication) is not the API's.
    token = client.post(
        "/oauth2/token/",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="},
    )
    assert "resource_metadata" not in token.headers.get("www-authenticate", "")
