"""RFC 9449 end to end at the protected resource: DPoP tokens issued by the real token endpoint
(a proof at the code exchange and at the refresh) used on the API and on UserInfo with a new
proof per request; and a public DPoP client library (requests-oauth2client) calling the API of
a real `c42 serve` that requires nonces, so the resource server's `use_dpop_nonce` challenge
and `DPoP-Nonce` header must be understood by a client we did not write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client

from c42.db import Database
from c42.settings import Settings
from tests.dpop_helpers import make_key, proof_for_token
from tests.factories import Person
from tests.oauth.helpers import App, Browser, bearer, make_app, new_browser, pkce, query_of
from tests.oauth.test_rfc9449_api import API, USERINFO, challenges, dpop, url_of
from tests.oauth.test_rfc9449_token import dpop as token_proof
from tests.oauth.test_rfc9449_token import redeem, refresh_with
from tests.ops.processes import Served


@pytest.mark.parametrize("alg", ["ES256", "RS256"])  # SPEC §11: ES256 and RS256 at least
def test_tokens_from_the_token_endpoint_work_on_the_api_and_userinfo(
    client: httpx.Client, browser: Browser, native_app: App, settings: Settings, alg: str
) -> None:
    key = make_key(alg)
    verifier, challenge = pkce()
    code = browser.code(native_app, scope="openid service.read service.write", challenge=challenge)
    issued = redeem(client, native_app, code, verifier, token_proof(settings, key))
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    token = issued.json()["access_token"]

    listed = client.get(
        API, headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token))
    )
    assert listed.status_code == 200, listed.text
    made = client.post(
        API,
        json={"name": f"DPoP {alg}"},
        headers=dpop(token, proof_for_token(key, "POST", url_of(settings, API), token)),
    )
    assert made.status_code == 201, made.text
    info = client.get(
        USERINFO,
        headers=dpop(token, proof_for_token(key, "GET", url_of(settings, USERINFO), token)),
    )
    assert info.status_code == 200, info.text
    # RFC 9449 §7.2: the same token as a Bearer token is refused, on both.
    assert client.get(API, headers=bearer(token)).status_code == 401
    assert client.get(USERINFO, headers=bearer(token)).status_code == 401
    # A proof by another key is refused: the token is bound to this one.
    thief = make_key(alg)
    stolen = client.get(
        API, headers=dpop(token, proof_for_token(thief, "GET", url_of(settings, API), token))
    )
    assert stolen.status_code == 401
    assert challenges(stolen.headers["www-authenticate"])["DPoP"]["error"] == "invalid_dpop_proof"

    # The refreshed access token (a proof by the same key, RFC 9449 §5) is bound too.
    renewed = refresh_with(
        client, native_app, issued.json()["refresh_token"], token_proof(settings, key)
    )
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()["access_token"]
    again = client.get(
        API, headers=dpop(fresh, proof_for_token(key, "GET", url_of(settings, API), fresh))
    )
    assert again.status_code == 200, again.text
    assert client.get(API, headers=bearer(fresh)).status_code == 401


def test_a_client_library_calls_the_api_with_nonces(
    nonce_served: Served, db: Database, settings: Settings, service_id: str, person: Person
) -> None:
    app = make_app(db, settings, service_id, public=True, require_dpop=True)
    oauth = OAuth2Client.from_discovery_endpoint(
        nonce_served.url + "/.well-known/oauth-authorization-server",
        issuer=nonce_served.url,
        client_id=app.client_id,
        redirect_uri=app.redirect_uri,
        session=requests.Session(),
        testing=True,  # plain http on loopback
        dpop_bound_access_tokens=True,
    )
    key = DPoPKey.generate(alg="ES256")
    request = oauth.authorization_request(scope="service.read service.write", dpop_key=key)
    browser = new_browser(nonce_served.url)
    try:
        browser.login(person)
        page = browser.http.get(str(request.uri))
        answer = browser.consent(page, "allow") if page.status_code == 200 else page
        assert answer.status_code == 302, answer.text
        callback = answer.headers["location"]
    finally:
        browser.http.close()
    token = oauth.authorization_code(request.validate_callback(callback))
    assert isinstance(token, DPoPToken)
    assert key.rs_nonce is None

    api = requests.Session()
    listed = api.get(nonce_served.url + API, auth=token, timeout=30)
    # The library got 401 use_dpop_nonce with DPoP-Nonce (RFC 9449 §9) and retried with it.
    assert listed.status_code == 200, listed.text
    assert key.rs_nonce
    made = api.post(nonce_served.url + API, json={"name": "Library"}, auth=token, timeout=30)
    assert made.status_code == 201, made.text
    # The raw token without the key is refused.
    stolen = httpx.get(
        nonce_served.url + API, headers={"Authorization": f"Bearer {token.access_token}"}
    )
    assert stolen.status_code == 401


DOC = Path(__file__).resolve().parents[2] / "docs" / "device-and-dpop.md"


def _python_after(heading: str) -> str:
    text = DOC.read_text()
    section = text[text.index(heading) :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_docs_api_walk_through_runs(
    nonce_served: Served, db: Database, settings: Settings, service_id: str, person: Person
) -> None:
    """docs/device-and-dpop.md as written: the token walk-through, then the API call (with
    the API's nonce retry), against a `c42 serve` that requires nonces."""
    app = make_app(db, settings, service_id, public=True, redirect_uris=["http://127.0.0.1/cb"])
    source = _python_after("### The flow, in Python with joserfc")
    source += _python_after("## Calling the API with a DPoP token")
    for placeholder, value in (
        ('ISSUER = "https://c42.example"', f'ISSUER = "{nonce_served.url}"'),
        ('CLIENT_ID = "your-client-id"', f'CLIENT_ID = "{app.client_id}"'),
    ):
        assert placeholder in source
        source = source.replace(placeholder, value)

    def user_in_the_browser(prompt: str) -> str:
        browser = new_browser(nonce_served.url)
        try:
            browser.login(person)
            page = browser.http.get(prompt.split()[1])
            answer = browser.consent(page, "allow") if page.status_code == 200 else page
            assert answer.status_code == 302, answer.text
            return query_of(answer.headers["location"])["code"]
        finally:
            browser.http.close()

    namespace: dict[str, Any] = {"input": user_in_the_browser, "__name__": "walkthrough"}
    exec(compile(source, str(DOC), "exec"), namespace)  # noqa: S102  # our own documentation
    assert namespace["events"]["meta_data"]["count"] >= 0
    assert namespace["api_nonce"]  # the API asked for a nonce and the snippet used it
