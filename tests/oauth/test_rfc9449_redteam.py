"""Adversarial review of DPoP (RFC 9449 §11), PAR (RFC 9126 §7) and the device grant (RFC 8628
§5) over HTTP against the served app: each test is an attack that must be refused (or, for
RFC 7009 revocation, must keep working), never with a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import psycopg
import pytest
from joserfc import jws
from sqlalchemy import event
from sqlalchemy import exc as sa

from c42.auth.dpop.proofs import DPoPError, ProofChecker, request_url
from c42.db import Database
from c42.settings import Settings
from tests.dpop_helpers import _SIGNING, Key, make_key, proof, proof_for_token
from tests.oauth.helpers import App, Browser, make_app, pkce, query_of
from tests.oauth.test_rfc8628_device import decide, error_of, poll, started
from tests.oauth.test_rfc9126_par import pushed
from tests.oauth.test_rfc9449_api import API, bound, dpop, url_of
from tests.oauth.test_rfc9449_token import TOKEN, bound_pair, refresh_with
from tests.oauth.test_rfc9449_token import url as token_url

__all__ = ["bound"]


@pytest.mark.parametrize("iat", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_iat_is_refused_at_the_api(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key], iat: str
) -> None:
    token, key = bound
    value = proof_for_token(key, "GET", url_of(settings, API), token, iat=12345.5)
    value = _with_raw_claim(key, value, '"iat":12345.5', f'"iat":{iat}')
    answer = client.get(API, headers=dpop(token, value))
    assert answer.status_code == 401, answer.text


def test_non_finite_iat_is_refused_at_the_token_endpoint(
    client: httpx.Client, browser: Browser, native_app: App, settings: Settings
) -> None:
    key = make_key()
    pair = bound_pair(client, browser, native_app, settings, key)
    value = proof(key, "POST", token_url(settings), iat=12345.5)
    value = _with_raw_claim(key, value, '"iat":12345.5', '"iat":NaN')
    answer = refresh_with(client, native_app, pair["refresh_token"], {"DPoP": value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_dpop_proof"


def _with_raw_claim(key: Key, value: str, old: str, new: str) -> str:
    """`value` re-signed by `key` with `old` replaced by `new` in the claims' JSON text."""
    encoded_header, encoded_payload, _ = value.split(".")
    payload = base64.urlsafe_b64decode(encoded_payload + "=" * (-len(encoded_payload) % 4))
    text = payload.decode()
    assert old in text, text
    header = json.loads(base64.urlsafe_b64decode(encoded_header + "=" * (-len(encoded_header) % 4)))
    return str(
        jws.serialize_compact(header, text.replace(old, new).encode(), key.jwk, registry=_SIGNING)
    )


def test_revocation_of_a_bound_public_refresh_token_needs_no_proof(
    client: httpx.Client, browser: Browser, native_app: App, web_app: App, settings: Settings
) -> None:
    key = make_key()
    pair = bound_pair(client, browser, native_app, settings, key)
    answer = client.post(
        "/oauth2/revoke/",
        data={"token": pair["refresh_token"], "client_id": native_app.client_id},
    )
    assert answer.status_code == 200, answer.text
    refused = refresh_with(client, native_app, pair["refresh_token"], _token_proof(settings, key))
    assert refused.status_code == 400, refused.text


def _token_proof(settings: Settings, key: Key) -> dict[str, str]:
    return {"DPoP": proof(key, "POST", token_url(settings, TOKEN))}


def test_a_dpop_write_that_lost_a_race_is_re_run_with_its_proof(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key], db: Database
) -> None:
    """c42.write_retry re-runs a write that lost a database race (PostgreSQL: deadlock,
    serialization failure, unique violation) with the same headers: its DPoP proof, already
    spent in the replay cache, must not then be refused as a replay (a Bearer write would have
    succeeded). The race is simulated once, on the calendar INSERT, as PostgreSQL reports it."""
    token, key = bound
    raised: list[str] = []

    def lose_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not raised and statement.lstrip().upper().startswith("INSERT INTO CALENDARS"):
            raised.append(statement)
            error = psycopg.errors.UniqueViolation("duplicate key (simulated race)")
            raise sa.DBAPIError.instance(statement, {}, error, psycopg.Error)

    event.listen(db.engine, "before_cursor_execute", lose_once)
    try:
        made = client.post(
            API,
            json={"name": "Raced"},
            headers=dpop(token, proof_for_token(key, "POST", url_of(settings, API), token)),
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", lose_once)
    assert raised, "the simulated race did not happen"
    assert made.status_code == 201, made.text


# -- PAR (RFC 9126 §7) and the device grant (RFC 8628 §5): attacks that must stay refused ----


def test_require_par_is_not_bypassed_by_prompt_none_silent_oauth_or_a_second_client_id(
    browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    app = make_app(db, settings, service_id, require_par=True)
    other = make_app(db, settings, service_id)
    base = {"response_type": "code", "client_id": app.client_id, "redirect_uri": app.redirect_uri}
    for extra in ({"prompt": "none", "scope": "openid"}, {"email_address": "a@b.example"}):
        answer = browser.authorize({**base, **extra})
        assert answer.status_code == 400, answer.text  # an error page, no redirect with a code
        assert "location" not in answer.headers
    repeated = browser.http.get(
        "/oauth2/authorize/",
        params=[*base.items(), ("client_id", other.client_id)],
    )
    assert repeated.status_code == 400
    assert "location" not in repeated.headers


def test_query_parameters_beside_a_request_uri_do_not_override_the_pushed_ones(
    client: httpx.Client, browser: Browser, web_app: App
) -> None:
    _, challenge = pkce()
    uri = pushed(
        client, web_app, scope="service.read", state="pushed",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    answer = by_uri_with(
        browser,
        web_app,
        uri,
        redirect_uri="https://evil.example/cb",
        state="evil",
        scope="service.read service.write",
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(web_app.redirect_uri + "?"), location
    assert query_of(location)["state"] == "pushed"


def by_uri_with(browser: Browser, app: App, request_uri: str, **extra: str) -> httpx.Response:
    answer = browser.authorize({"client_id": app.client_id, "request_uri": request_uri, **extra})
    if answer.status_code == 200 and 'id="consent-form"' in answer.text:
        assert "service.write" not in answer.text  # the consent page asks for what was pushed
        answer = browser.consent(answer, "allow")
    return answer


def test_a_device_code_is_not_redeemed_by_another_client(
    client: httpx.Client, browser: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    tv, other = (make_app(db, settings, service_id, public=True, device=True) for _ in "ab")
    body = started(client, tv, scope="service.read")
    assert decide(browser, body["user_code"], "allow").status_code == 200
    assert error_of(poll(client, other, body["device_code"])) == "unauthorized_client"
    answer = poll(client, tv, body["device_code"])  # the right client still gets its tokens
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("issuer", ["https://c42.example:99999", "https://c42.example:port"])
def test_an_htu_check_against_a_url_that_does_not_parse_fails_closed(issuer: str) -> None:
    """Both sides of the htu comparison normalise to None when neither parses: a proof with a
    garbage htu must not match a server URL that does not parse (a misconfigured issuer)."""
    checker = ProofChecker("k" * 32, None, require_nonce=False)
    key = make_key()
    url = request_url(issuer, API)
    with pytest.raises(DPoPError, match="htu"):
        checker.check([proof(key, "GET", "garbage")], method="GET", url=url)
    with pytest.raises(DPoPError, match="htu"):
        checker.check([proof(key, "GET", url)], method="GET", url=url)


def test_a_stolen_bound_refresh_token_without_the_key_cannot_revoke_its_family(
    client: httpx.Client, browser: Browser, native_app: App, settings: Settings
) -> None:
    """RFC 9700 §4.14.2 reuse detection must not be a lever for someone without the key: a
    rotated, bound refresh token presented again without a proof (or with another key) is
    refused before it counts as reuse, so the client's current pair stays valid."""
    key = make_key()
    pair = bound_pair(client, browser, native_app, settings, key)
    first = refresh_with(client, native_app, pair["refresh_token"], _token_proof(settings, key))
    assert first.status_code == 200, first.text
    for headers in ({}, _token_proof(settings, make_key())):
        stolen = refresh_with(client, native_app, pair["refresh_token"], headers)
        assert stolen.status_code == 400, stolen.text
        assert stolen.json()["error"] == "invalid_dpop_proof"
    renewed = first.json()["refresh_token"]
    answer = refresh_with(client, native_app, renewed, _token_proof(settings, key))
    assert answer.status_code == 200, answer.text
