"""RFC 9449 end to end with a public DPoP-capable client library, requests-oauth2client,
against a real `c42 serve` process that requires server nonces (C42_DPOP_REQUIRE_NONCE):
the library reads the metadata, binds the authorization request with `dpop_jkt`, redeems the
code with a proof of that key (first answer `use_dpop_nonce`, which the library retries with
the nonce), gets a DPoP token and refreshes it with the same key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client

from c42.db import Database
from c42.settings import Settings
from tests.factories import Person
from tests.oauth.helpers import Browser, make_app, new_browser
from tests.ops.processes import Served, environment


@pytest.fixture(scope="module")
def served(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`c42 serve` on the test database, its issuer its own address, nonces required."""
    root = tmp_path_factory.mktemp("dpop-serve")
    env = environment(
        root,
        settings.database_url,
        C42_SECRET_KEY=settings.secret_key,
        C42_DPOP_REQUIRE_NONCE="true",
    )
    process = Served(root, env)
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.terminate()


def test_requests_oauth2client_code_flow_with_dpop(
    served: Served,
    db: Database,
    settings: Settings,
    service_id: str,
    person: Person,
) -> None:
    app = make_app(db, settings, service_id, public=True, require_dpop=True)
    session = requests.Session()
    client = OAuth2Client.from_discovery_endpoint(
        served.url + "/.well-known/oauth-authorization-server",
        issuer=served.url,
        client_id=app.client_id,
        redirect_uri=app.redirect_uri,
        session=session,
        testing=True,  # plain http on loopback
        dpop_bound_access_tokens=True,
    )
    key = DPoPKey.generate(alg="ES256")
    request = client.authorization_request(scope="service.read", dpop_key=key, nonce=None)
    assert "dpop_jkt=" in str(request.uri)  # RFC 9449 §10: the code is bound to the key

    browser: Browser = new_browser(served.url)
    try:
        browser.login(person)
        page = browser.http.get(str(request.uri))
        answer = browser.consent(page, "allow") if page.status_code == 200 else page
        assert answer.status_code == 302, answer.text
        callback = answer.headers["location"]
    finally:
        browser.http.close()

    token = client.authorization_code(request.validate_callback(callback))
    assert isinstance(token, DPoPToken)
    assert token.token_type == "DPoP"
    assert token.dpop_key.dpop_jkt == key.dpop_jkt
    assert key.as_nonce  # the server asked for a nonce (use_dpop_nonce) and the library used it

    renewed = client.refresh_token(token)  # a proof by the same key (RFC 9449 §5)
    assert isinstance(renewed, DPoPToken) and renewed.token_type == "DPoP"
    assert renewed.access_token != token.access_token

    # Without the key the bound refresh token is refused.
    stolen = httpx.post(
        served.url + "/oauth2/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(renewed.refresh_token),
            "client_id": app.client_id,
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_dpop_proof"
