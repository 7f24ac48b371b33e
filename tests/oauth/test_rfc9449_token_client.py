"""RFC 9449 end to end with a public DPoP-capable client library, requests-oauth2client,
against a real `c42 serve` process that requires server nonces (C42_DPOP_REQUIRE_NONCE):
the library reads the metadata, binds the authorization request with `dpop_jkt`, redeems the
code with a proof of that key (first answer `use_dpop_nonce`, which the library retries with
the nonce), gets a DPoP token and refreshes it with the same key. The same server runs the
Python walk-through of docs/device-and-dpop.md as written (joserfc proofs, nonce retry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import requests
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client
from sqlalchemy import select

from c42.auth import secrets
from c42.db import Database
from c42.models import OAuthToken
from c42.settings import Settings
from tests.factories import Person
from tests.oauth.helpers import Browser, make_app, new_browser, query_of
from tests.ops.processes import Served


def test_requests_oauth2client_code_flow_with_dpop(
    nonce_served: Served,
    db: Database,
    settings: Settings,
    service_id: str,
    person: Person,
) -> None:
    app = make_app(db, settings, service_id, public=True, require_dpop=True)
    session = requests.Session()
    client = OAuth2Client.from_discovery_endpoint(
        nonce_served.url + "/.well-known/oauth-authorization-server",
        issuer=nonce_served.url,
        client_id=app.client_id,
        redirect_uri=app.redirect_uri,
        session=session,
        testing=True,  # plain http on loopback
        dpop_bound_access_tokens=True,
    )
    key = DPoPKey.generate(alg="ES256")
    request = client.authorization_request(scope="service.read", dpop_key=key, nonce=None)
    assert "dpop_jkt=" in str(request.uri)  # RFC 9449 §10: the code is bound to the key

    browser: Browser = new_browser(nonce_served.url)
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
        nonce_served.url + "/oauth2/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(renewed.refresh_token),
            "client_id": app.client_id,
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_dpop_proof"


DOC = Path(__file__).resolve().parents[2] / "docs" / "device-and-dpop.md"


def _doc_snippet() -> str:
    """The Python walk-through of docs/device-and-dpop.md (the block after its heading)."""
    text = DOC.read_text()
    section = text[text.index("### The flow, in Python with joserfc") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_docs_python_walk_through_runs(
    nonce_served: Served,
    db: Database,
    settings: Settings,
    service_id: str,
    person: Person,
) -> None:
    redirect = "http://127.0.0.1/cb"  # the snippet's http://127.0.0.1:8765/cb: any port
    app = make_app(db, settings, service_id, public=True, redirect_uris=[redirect])
    source = _doc_snippet()
    for placeholder, value in (
        ('ISSUER = "https://c42.example"', f'ISSUER = "{nonce_served.url}"'),
        ('CLIENT_ID = "your-client-id"', f'CLIENT_ID = "{app.client_id}"'),
    ):
        assert placeholder in source
        source = source.replace(placeholder, value)

    def user_in_the_browser(prompt: str) -> str:
        """The person's part: log in, allow; the code from the loopback redirect."""
        url = prompt.split()[1]
        browser = new_browser(nonce_served.url)
        try:
            browser.login(person)
            page = browser.http.get(url)
            answer = browser.consent(page, "allow") if page.status_code == 200 else page
            assert answer.status_code == 302, answer.text
            return query_of(answer.headers["location"])["code"]
        finally:
            browser.http.close()

    namespace: dict[str, Any] = {"input": user_in_the_browser, "__name__": "walkthrough"}
    exec(compile(source, str(DOC), "exec"), namespace)  # noqa: S102  # our own documentation
    tokens = namespace["tokens"]
    assert tokens["token_type"] == "DPoP"
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthToken).where(
                OAuthToken.access_digest == secrets.digest(tokens["access_token"])
            )
        )
    assert row is not None and row.dpop_jkt == namespace["jkt"]
