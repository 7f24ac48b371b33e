"""A refresh of an `openid` grant retried within the refresh grace period
(`C42_REFRESH_GRACE_SECONDS`) answers the same as the first refresh did: the same pair, and an
id_token with the same sub and auth_time (OIDC Core §12.2)."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser
from tests.oidc.helpers import relying_party, sign_in


def test_a_retried_refresh_gets_the_id_token_again(
    server: LiveServer, browser: Browser, web_app: App
) -> None:
    rp = relying_party(server.url, web_app)
    done = sign_in(rp, browser, web_app.redirect_uri)
    form = {"grant_type": "refresh_token", "refresh_token": done.token["refresh_token"]}
    first = httpx.post(f"{server.url}/oauth2/token/", data=form, auth=web_app.auth)
    retried = httpx.post(f"{server.url}/oauth2/token/", data=form, auth=web_app.auth)
    assert first.status_code == 200, first.text
    assert retried.status_code == 200, retried.text
    assert retried.json()["access_token"] == first.json()["access_token"]  # the grace's answer
    assert retried.json()["refresh_token"] == first.json()["refresh_token"]
    claims = [rp.parse_id_token(answer.json(), nonce=None) for answer in (first, retried)]
    for found in claims:
        assert found["sub"] == done.claims["sub"]
        assert found["auth_time"] == done.claims["auth_time"]
        assert found["aud"] == web_app.client_id
        assert "nonce" not in found
    # Bound to the access token both answers carry (OIDC Core §3.1.3.6).
    assert claims[0]["at_hash"] == claims[1]["at_hash"]


def test_a_retried_refresh_without_openid_has_no_id_token(
    server: LiveServer, browser: Browser, web_app: App
) -> None:
    rp = relying_party(server.url, web_app)
    done = sign_in(rp, browser, web_app.redirect_uri)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": done.token["refresh_token"],
        "scope": "email",  # narrowed: no openid any more
    }
    first = httpx.post(f"{server.url}/oauth2/token/", data=form, auth=web_app.auth)
    retried = httpx.post(f"{server.url}/oauth2/token/", data=form, auth=web_app.auth)
    assert first.status_code == 200 and retried.status_code == 200, retried.text
    assert "id_token" not in first.json() and "id_token" not in retried.json()
    assert retried.json()["access_token"] == first.json()["access_token"]
