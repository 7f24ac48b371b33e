"""RFC 9449 DPoP at the authorization server (SPEC §11): proofs at the token endpoint for every
grant, `token_type: DPoP` and the key binding of the stored pair, `cnf.jkt` in introspection,
refresh tokens of public apps bound to the key, `dpop_jkt` on authorize and PAR, apps that
require DPoP, server nonces, and every refusal as a 400 with RFC 9449's error code.

Proofs are built with joserfc (tests/dpop_helpers.py). Their htu is the issuer's URL of the
endpoint: the public address the server checks proofs against, whatever port the test server
listens on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from c42.auth import secrets
from c42.auth.dpop import proofs
from c42.db import Database
from c42.models import OAuthAuthorizationCode, OAuthToken
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.dpop_helpers import Key, make_key, proof
from tests.oauth.helpers import (
    App,
    Browser,
    exchange,
    make_app,
    pkce,
    query_of,
    refresh,
    token_request,
)
from tests.oauth.test_rfc8628_device import GRANT as DEVICE_GRANT
from tests.oauth.test_rfc8628_device import decide, started

TOKEN = "/oauth2/token/"
PAR = "/oauth2/par/"
INTROSPECT = "/oauth2/introspect/"


def url(settings: Settings, path: str = TOKEN) -> str:
    return settings.issuer.rstrip("/") + path


def dpop(settings: Settings, key: Key, path: str = TOKEN, **options: Any) -> dict[str, str]:
    return {"DPoP": proof(key, "POST", url(settings, path), **options)}


def code_for(browser: Browser, app: App, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce()
    return browser.code(app, challenge=challenge, extra=extra), verifier


def redeem(
    client: httpx.Client, app: App, code: str, verifier: str, headers: dict[str, str]
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    form["code_verifier"] = verifier
    if app.client_secret is None:
        form["client_id"] = app.client_id
        return client.post(TOKEN, data=form, headers=headers)
    return client.post(TOKEN, data=form, headers=headers, auth=app.auth)


def refresh_with(
    client: httpx.Client, app: App, refresh_token: str, headers: dict[str, str]
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if app.client_secret is None:
        form["client_id"] = app.client_id
        return client.post(TOKEN, data=form, headers=headers)
    return client.post(TOKEN, data=form, headers=headers, auth=app.auth)


def bound_pair(
    client: httpx.Client, browser: Browser, app: App, settings: Settings, key: Key
) -> dict[str, Any]:
    code, verifier = code_for(browser, app)
    answer = redeem(client, app, code, verifier, dpop(settings, key))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["token_type"] == "DPoP"
    return body


def stored_jkt(db: Database, access_token: str) -> str | None:
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthToken).where(OAuthToken.access_digest == secrets.digest(access_token))
        )
    assert row is not None
    return row.dpop_jkt


def refused(answer: httpx.Response, error: str = "invalid_dpop_proof") -> dict[str, Any]:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    assert body["error"] == error, body
    assert body["error_description"]
    return body


def introspect(client: httpx.Client, app: App, token: str) -> dict[str, Any]:
    answer = client.post(INTROSPECT, data={"token": token}, auth=app.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# -- issuing bound tokens -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "ES384", "Ed25519"])
def test_code_pkce_dpop_end_to_end(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    db: Database,
    alg: str,
) -> None:
    key = make_key(alg)
    pair = bound_pair(client, browser, native_app, settings, key)
    assert pair["refresh_token"] and pair["expires_in"] > 0
    assert stored_jkt(db, pair["access_token"]) == key.jkt


def test_without_a_proof_the_token_stays_bearer(
    client: httpx.Client, browser: Browser, native_app: App, db: Database
) -> None:
    code, verifier = code_for(browser, native_app)
    answer = exchange(client, native_app, code, verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    assert stored_jkt(db, answer.json()["access_token"]) is None


def test_introspection_says_dpop_and_cnf_jkt(
    client: httpx.Client, browser: Browser, web_app: App, settings: Settings
) -> None:
    key = make_key()
    pair = bound_pair(client, browser, web_app, settings, key)
    body = introspect(client, web_app, pair["access_token"])
    assert body["active"] is True
    assert body["token_type"] == "DPoP"  # RFC 7662 §2.2
    assert body["cnf"] == {"jkt": key.jkt}  # RFC 9449 §6.2
    # A Bearer token has no cnf.
    code, verifier = code_for(browser, web_app)
    plain = exchange(client, web_app, code, verifier).json()
    body = introspect(client, web_app, plain["access_token"])
    assert body["token_type"] == "Bearer" and "cnf" not in body


# -- refused proofs ---------------------------------------------------------------------------

_BAD: dict[str, Callable[[Settings, Key], dict[str, str]]] = {
    "wrong-htm": lambda s, k: {"DPoP": proof(k, "GET", url(s))},
    "wrong-htu": lambda s, k: {"DPoP": proof(k, "POST", url(s, "/oauth2/revoke/"))},
    "other-host": lambda s, k: {"DPoP": proof(k, "POST", "https://evil.example/oauth2/token/")},
    "stale-iat": lambda s, k: dpop(s, k, iat=0),
    "future-iat": lambda s, k: dpop(s, k, iat=4_000_000_000),
    "private-key": lambda s, k: dpop(s, k, jwk_member=k.jwk.as_dict(private=True)),
    "alg-none": lambda s, k: dpop(s, k, alg="none"),
    "alg-hs256": lambda s, k: dpop(s, k, alg="HS256"),
    "typ-jwt": lambda s, k: dpop(s, k, typ="JWT"),
    "no-jti": lambda s, k: dpop(s, k, claims={"jti": None}),
    "two-headers": lambda s, k: {},  # built below: two DPoP header fields
    "not-a-jwt": lambda s, k: {"DPoP": "not.a.jwt"},
    "signed-by-another-key": lambda s, k: dpop(s, k, jwk_member=make_key().public),
}


@pytest.mark.parametrize("case", list(_BAD))
def test_bad_proofs_are_refused_before_the_code_is_used(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    case: str,
) -> None:
    key = make_key()
    code, verifier = code_for(browser, native_app)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    form |= {"redirect_uri": native_app.redirect_uri, "client_id": native_app.client_id}
    if case == "two-headers":
        headers: Any = [("DPoP", proof(key, "POST", url(settings))) for _ in range(2)]
    else:
        headers = _BAD[case](settings, key)
    body = refused(client.post(TOKEN, data=form, headers=headers))
    assert "DPoP" in body["error_description"]
    # The proof is checked before Authlib reads the request: the code is still good.
    answer = redeem(client, native_app, code, verifier, dpop(settings, key))
    assert answer.status_code == 200, answer.text


def test_replayed_proof_is_refused(
    client: httpx.Client, browser: Browser, native_app: App, settings: Settings
) -> None:
    key = make_key()
    headers = dpop(settings, key)
    code, verifier = code_for(browser, native_app)
    assert redeem(client, native_app, code, verifier, headers).status_code == 200
    code, verifier = code_for(browser, native_app)
    body = refused(redeem(client, native_app, code, verifier, headers))  # RFC 9449 §11.1
    assert "already used" in body["error_description"]


@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300),
        st.lists(st.text("ABCxyz-_=+/", max_size=80), min_size=3, max_size=3).map(".".join),
        st.binary(max_size=200).map(lambda b: "eyJ" + b.hex() + ".e30.AA"),
    )
    .map(str.strip)
    .filter(bool)  # HTTP strips a field value's surrounding whitespace (RFC 9110 §5.5)
)
def test_garbage_dpop_headers_never_500(server: LiveServer, value: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answer = http.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "nobody"},
            headers={"DPoP": value},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_dpop_proof", answer.text


# -- nonces ---------------------------------------------------------------------------------


def test_nonce_required_then_retry_succeeds(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checker = server.app.state.oauth_config.dpop
    monkeypatch.setattr(checker, "require_nonce", True)  # C42_DPOP_REQUIRE_NONCE=true
    key = make_key()
    code, verifier = code_for(browser, native_app)
    first = redeem(client, native_app, code, verifier, dpop(settings, key))
    refused(first, "use_dpop_nonce")  # RFC 9449 §8
    nonce = first.headers["dpop-nonce"]
    assert nonce
    wrong = redeem(client, native_app, code, verifier, dpop(settings, key, nonce="x" * 24))
    assert wrong.headers["dpop-nonce"] == nonce
    refused(wrong, "use_dpop_nonce")
    answer = redeem(client, native_app, code, verifier, dpop(settings, key, nonce=nonce))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert answer.headers["dpop-nonce"]  # RFC 9449 §8.2: the next nonce comes along


# -- apps that require DPoP --------------------------------------------------------------------


def test_require_dpop_app_without_proof_is_refused(
    client: httpx.Client,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
) -> None:
    app = make_app(db, settings, service_id, public=True, require_dpop=True)
    code, verifier = code_for(browser, app)
    body = refused(exchange(client, app, code, verifier))
    assert "must send a DPoP proof" in body["error_description"]
    # Refused at client authentication, before the code is used: a retry with a proof works.
    key = make_key()
    answer = redeem(client, app, code, verifier, dpop(settings, key))
    assert answer.status_code == 200, answer.text
    pair = answer.json()
    refused(refresh(client, app, pair["refresh_token"]))


# -- dpop_jkt on authorize (RFC 9449 §10) ---------------------------------------------------


def test_dpop_jkt_binds_the_code(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    db: Database,
) -> None:
    key = make_key()
    code, verifier = code_for(browser, native_app, dpop_jkt=key.jkt)
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_digest == secrets.digest(code)
            )
        )
    assert row is not None and row.dpop_jkt == key.jkt
    answer = redeem(client, native_app, code, verifier, dpop(settings, key))
    assert answer.status_code == 200, answer.text
    assert stored_jkt(db, answer.json()["access_token"]) == key.jkt


@pytest.mark.parametrize("proof_key", ["other", "none"])
def test_dpop_jkt_mismatch_is_refused_and_uses_the_code_up(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    proof_key: str,
) -> None:
    key = make_key()
    code, verifier = code_for(browser, native_app, dpop_jkt=key.jkt)
    headers = dpop(settings, make_key()) if proof_key == "other" else {}
    body = refused(redeem(client, native_app, code, verifier, headers))
    assert "authorization code" in body["error_description"]
    # One attempt per code (RFC 9700 §4.8, as a wrong PKCE verifier): now it is used.
    again = redeem(client, native_app, code, verifier, dpop(settings, key))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("value", ["short", "x" * 44, "a+b/" * 10 + "abc", ""])
def test_malformed_dpop_jkt_is_an_error_redirect(
    browser: Browser, native_app: App, value: str
) -> None:
    _, challenge = pkce()
    answer = browser.authorize(
        {
            "response_type": "code", "client_id": native_app.client_id,
            "redirect_uri": native_app.redirect_uri, "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256", "dpop_jkt": value,
        }
    )  # fmt: skip
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["error"] == "invalid_request" and "dpop_jkt" in query["error_description"]
    assert query["state"] == "s"


# -- PAR (RFC 9449 §10.1) -------------------------------------------------------------------


def _push(
    client: httpx.Client, app: App, headers: dict[str, str], challenge: str = "", **params: str
) -> httpx.Response:
    data = {"response_type": "code", "redirect_uri": app.redirect_uri, **params}
    if challenge:
        data |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return client.post(PAR, data=data, headers=headers, auth=app.auth)


def _code_by_uri(browser: Browser, app: App, request_uri: str) -> str:
    answer = browser.authorize({"client_id": app.client_id, "request_uri": request_uri})
    if answer.status_code == 200:
        answer = browser.consent(answer, "allow")
    assert answer.status_code == 302, answer.text
    return query_of(answer.headers["location"])["code"]


@pytest.mark.parametrize("how", ["dpop-header", "dpop_jkt", "both"])
def test_par_binds_the_code(
    client: httpx.Client,
    browser: Browser,
    web_app: App,
    settings: Settings,
    db: Database,
    how: str,
) -> None:
    key = make_key()
    verifier, challenge = pkce()

    def push_and_code() -> str:
        headers = dpop(settings, key, PAR) if how != "dpop_jkt" else {}
        params = {"dpop_jkt": key.jkt} if how != "dpop-header" else {}
        pushed = _push(client, web_app, headers, challenge, **params)
        assert pushed.status_code == 201, pushed.text
        return _code_by_uri(browser, web_app, pushed.json()["request_uri"])

    code = push_and_code()
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_digest == secrets.digest(code)
            )
        )
    assert row is not None and row.dpop_jkt == key.jkt
    refused(redeem(client, web_app, code, verifier, dpop(settings, make_key())))
    answer = redeem(client, web_app, push_and_code(), verifier, dpop(settings, key))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"


def test_par_with_dpop_jkt_of_another_key_is_refused(
    client: httpx.Client, web_app: App, settings: Settings
) -> None:
    headers = dpop(settings, make_key(), PAR)
    refused(_push(client, web_app, headers, dpop_jkt=make_key().jkt))


def test_par_with_a_bad_proof_is_refused(
    client: httpx.Client, web_app: App, settings: Settings
) -> None:
    refused(_push(client, web_app, dpop(settings, make_key())))  # htu of the token endpoint


# -- refresh (RFC 9449 §5) ------------------------------------------------------------------


def test_public_refresh_needs_the_same_key(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    db: Database,
) -> None:
    key = make_key()
    pair = bound_pair(client, browser, native_app, settings, key)
    body = refused(refresh_with(client, native_app, pair["refresh_token"], {}))
    assert "refresh token is bound" in body["error_description"]
    other = refresh_with(client, native_app, pair["refresh_token"], dpop(settings, make_key()))
    refused(other)
    answer = refresh_with(client, native_app, pair["refresh_token"], dpop(settings, key))
    assert answer.status_code == 200, answer.text
    renewed = answer.json()
    assert renewed["token_type"] == "DPoP"
    assert stored_jkt(db, renewed["access_token"]) == key.jkt  # the new pair stays bound
    refused(refresh_with(client, native_app, renewed["refresh_token"], {}))


def test_confidential_refresh_rebinds_to_the_proof_sent(
    client: httpx.Client,
    browser: Browser,
    web_app: App,
    settings: Settings,
    db: Database,
) -> None:
    first, second = make_key(), make_key()
    pair = bound_pair(client, browser, web_app, settings, first)
    # Its refresh token is bound to the client's authentication, not to the key.
    answer = refresh_with(client, web_app, pair["refresh_token"], dpop(settings, second))
    assert answer.status_code == 200, answer.text
    renewed = answer.json()
    assert renewed["token_type"] == "DPoP"
    assert introspect(client, web_app, renewed["access_token"])["cnf"] == {"jkt": second.jkt}
    plain = refresh_with(client, web_app, renewed["refresh_token"], {})
    assert plain.status_code == 200, plain.text
    assert plain.json()["token_type"] == "Bearer"
    assert stored_jkt(db, plain.json()["access_token"]) is None


def test_grace_retry_never_hands_a_bound_pair_to_a_request_without_the_key(
    client: httpx.Client,
    browser: Browser,
    web_app: App,
    native_app: App,
    settings: Settings,
) -> None:
    assert settings.refresh_grace_seconds > 0
    key = make_key()
    for app in (native_app, web_app):
        pair = bound_pair(client, browser, app, settings, key)
        first = refresh_with(client, app, pair["refresh_token"], dpop(settings, key))
        assert first.status_code == 200, first.text
        refused(refresh_with(client, app, pair["refresh_token"], {}))
        refused(refresh_with(client, app, pair["refresh_token"], dpop(settings, make_key())))
        retried = refresh_with(client, app, pair["refresh_token"], dpop(settings, key))
        assert retried.status_code == 200, retried.text
        assert retried.json()["token_type"] == "DPoP"
        assert retried.json()["access_token"] == first.json()["access_token"]


def test_bearer_refresh_of_a_public_app_can_become_bound(
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    settings: Settings,
    db: Database,
) -> None:
    code, verifier = code_for(browser, native_app)
    pair = exchange(client, native_app, code, verifier).json()
    key = make_key()
    answer = refresh_with(client, native_app, pair["refresh_token"], dpop(settings, key))
    assert answer.status_code == 200, answer.text
    assert stored_jkt(db, answer.json()["access_token"]) == key.jkt
    refused(refresh_with(client, native_app, answer.json()["refresh_token"], {}))


# -- device grant, metadata ------------------------------------------------------------------


def test_device_grant_issues_bound_tokens(
    client: httpx.Client,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
) -> None:
    app = make_app(db, settings, service_id, public=True, device=True, require_dpop=True)
    grant = started(client, app)
    decided = decide(browser, grant["user_code"], "allow")
    assert decided.status_code == 200, decided.text
    form = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    # Without a proof: refused at client authentication, before the device code is redeemed.
    refused(token_request(client, app, form))
    key = make_key()
    answer = client.post(
        TOKEN, data={**form, "client_id": app.client_id}, headers=dpop(settings, key)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"


def test_metadata_lists_the_proof_algorithms(client: httpx.Client) -> None:
    body = client.get("/.well-known/oauth-authorization-server").json()
    assert body["dpop_signing_alg_values_supported"] == list(proofs.ALGORITHMS)
    assert {"ES256", "RS256"} <= set(body["dpop_signing_alg_values_supported"])
    assert "none" not in body["dpop_signing_alg_values_supported"]
    oidc = client.get("/.well-known/openid-configuration").json()
    assert oidc["dpop_signing_alg_values_supported"] == list(proofs.ALGORITHMS)
    json.dumps(body)


# -- the CLI and the demo app ------------------------------------------------------------------


def test_cli_require_dpop_flag(
    settings: Settings,
    service_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db: Database,
) -> None:
    from c42.cli.main import main
    from c42.models import AuditEvent
    from c42.settings import get_settings

    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def cli(*args: str) -> Any:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    try:
        created = cli(
            "app", "create", "--service", service_id, "--name", "CLI DPoP", "--public",
            "--redirect-uri", "http://127.0.0.1/cb", "--require-dpop",
        )  # fmt: skip
        client_id = created["client_id"]
        assert cli("app", "show", client_id)["require_dpop"] is True
        assert cli("app", "update", client_id, "--no-require-dpop")["require_dpop"] is False
        listed = {app["client_id"]: app for app in cli("app", "list", "--service", service_id)}
        assert listed[client_id]["require_dpop"] is False
        assert cli("app", "update", client_id, "--require-dpop")["require_dpop"] is True
    finally:
        get_settings.cache_clear()
    with db.session(write=False) as session:
        details = session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.type == "admin.app_update", AuditEvent.client_id == client_id)
            .order_by(AuditEvent.time)
        ).all()
    assert [d["require_dpop"] for d in details] == [False, True]  # SPEC §8: audited


def test_demo_dpop_app_requires_dpop(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: httpx.Client,
    server: LiveServer,
) -> None:
    from c42.cli.main import main
    from c42.settings import get_settings

    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        assert main(["demo", "--json"]) == 0
        demo = json.loads(capsys.readouterr().out)
    finally:
        get_settings.cache_clear()
    entry = demo["apps"]["dpop"]
    assert set(entry) == {"client_id", "redirect_uris"}  # public: no secret
    app = App("", entry["client_id"], None, "", entry["redirect_uris"])
    person = type("P", (), {"email": demo["user"]["email"], "password": demo["user"]["password"]})
    b = Browser(httpx.Client(base_url=server.url, follow_redirects=False, timeout=30))
    try:
        b.login(person())  # type: ignore[arg-type]
        code, verifier = code_for(b, app)
    finally:
        b.http.close()
    refused(exchange(client, app, code, verifier))  # require_dpop: no proof, no token
    answer = redeem(client, app, code, verifier, dpop(settings, make_key()))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
