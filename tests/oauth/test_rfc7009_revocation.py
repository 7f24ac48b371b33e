"""RFC 7009 token revocation: effective at once in this process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, bearer, exchange, make_app, pkce, refresh

REVOKE = "/oauth2/revoke/"


def _tokens(client: httpx.Client, browser: Browser, app: App) -> Any:
    verifier, challenge = pkce()
    answer = exchange(client, app, browser.code(app, challenge=challenge), verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _api(client: httpx.Client, access_token: str) -> int:
    return client.get("/api/v2/calendars/", headers=bearer(access_token)).status_code


def _revoke(client: httpx.Client, app: App, **form: str) -> httpx.Response:
    if app.client_secret is None:
        return client.post(REVOKE, data={"client_id": app.client_id, **form})
    return client.post(REVOKE, data=form, auth=app.auth)


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token", "something_else"])
def test_revoking_an_access_token(
    browser: Browser, web_app: App, client: httpx.Client, hint: str | None
) -> None:
    pair = _tokens(client, browser, web_app)
    assert _api(client, pair["access_token"]) == 200  # now cached in the authenticator
    form = {"token": pair["access_token"]}
    if hint:
        form["token_type_hint"] = hint  # RFC 7009 §2.1: only a hint
    answer = _revoke(client, web_app, **form)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert _api(client, pair["access_token"]) == 401  # at once, despite the cache


def test_revoking_a_refresh_token_revokes_its_grant(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    pair = _tokens(client, browser, web_app)
    rotated = refresh(client, web_app, pair["refresh_token"]).json()
    assert _api(client, rotated["access_token"]) == 200
    answer = _revoke(client, web_app, token=rotated["refresh_token"])
    assert answer.status_code == 200
    # RFC 7009 §2.1: the access tokens of the same grant go too.
    assert _api(client, rotated["access_token"]) == 401
    assert _api(client, pair["access_token"]) == 401
    assert refresh(client, web_app, rotated["refresh_token"]).json()["error"] == "invalid_grant"


def test_unknown_token_is_a_success(web_app: App, client: httpx.Client) -> None:
    assert _revoke(client, web_app, token="never-issued").status_code == 200  # RFC 7009 §2.2


def test_public_app_revokes_with_its_client_id(
    browser: Browser, native_app: App, client: httpx.Client
) -> None:
    pair = _tokens(client, browser, native_app)
    assert _revoke(client, native_app, token=pair["refresh_token"]).status_code == 200
    assert _api(client, pair["access_token"]) == 401


def test_other_clients_token_is_refused(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    other = make_app(db, settings, web_app.service_id)
    pair = _tokens(client, browser, web_app)
    answer = _revoke(client, other, token=pair["access_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert _api(client, pair["access_token"]) == 200


def test_client_must_authenticate(browser: Browser, web_app: App, client: httpx.Client) -> None:
    pair = _tokens(client, browser, web_app)
    anonymous = client.post(REVOKE, data={"token": pair["access_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    wrong = client.post(
        REVOKE, data={"token": pair["access_token"]}, auth=(web_app.client_id, "wrong")
    )
    assert wrong.status_code == 401
    confidential_as_public = client.post(
        REVOKE, data={"token": pair["access_token"], "client_id": web_app.client_id}
    )
    assert confidential_as_public.status_code == 401
    assert _api(client, pair["access_token"]) == 200


def test_missing_token_parameter(web_app: App, client: httpx.Client) -> None:
    answer = _revoke(client, web_app)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_revocation_reaches_another_server_process_within_the_cache_time(
    browser: Browser, web_app: App, client: httpx.Client, settings: Settings, db: Database
) -> None:
    """Another process (here: a second server on the same database) cached the token; it
    stops accepting it once its cache entry expires (C42_TOKEN_CACHE_SECONDS, at most 1 s)."""
    import time

    from tests.conftest import LiveServer

    other = LiveServer(settings, db)
    other.start()
    try:
        pair = _tokens(client, browser, web_app)
        with httpx.Client(base_url=other.url, timeout=30) as elsewhere:
            assert _api(elsewhere, pair["access_token"]) == 200  # cached over there now
            assert _revoke(client, web_app, token=pair["access_token"]).status_code == 200
            assert _api(client, pair["access_token"]) == 401  # here: at once
            time.sleep(settings.token_cache_seconds + 0.1)
            assert _api(elsewhere, pair["access_token"]) == 401  # there: after the cache time
    finally:
        other.stop()
