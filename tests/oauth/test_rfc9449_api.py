"""RFC 9449 at the protected resource (SPEC §11, issue 16): `Authorization: DPoP <token>` with a
proof on the API and on UserInfo. Every refusal is a 401 in the error envelope with the
challenge of RFC 9449 §7.1 (DPoP, its algs, the error, RFC 9728's resource_metadata), never a
500: a replayed jti, a wrong method or URL, a stale iat, a missing or wrong ath, a proof by
another key, a bound token sent as Bearer, an unbound token sent as DPoP; server nonces.

Bound tokens come from the real code flow, bound in the database as the token endpoint binds
them (`oauth_tokens.dpop_jkt`); test_rfc9449_api_flow.py gets them from the token endpoint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from c42.auth import secrets
from c42.auth.dpop.nonces import Nonces
from c42.db import Database
from c42.models import OAuthToken
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.dpop_helpers import Key, make_key, proof, proof_for_token
from tests.dpop_helpers import ath as ath_of
from tests.oauth.helpers import App, Browser, access_token, bearer, make_app

API = "/api/v2/calendars/"
USERINFO = "/oauth2/userinfo/"
ALGS = "ES256 ES384 ES512 PS256 RS256 Ed25519"
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def bind(db: Database, token: str, key: Key) -> None:
    """Bind `token` to `key` as the token endpoint does for a token requested with a proof."""
    with db.session() as session:
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.access_digest == secrets.digest(token))
            .values(dpop_jkt=key.jkt)
        )


def url_of(settings: Settings, path: str) -> str:
    """The htu of a request to `path`: the public origin is the issuer's (proofs.request_url)."""
    return settings.issuer.rstrip("/") + path


def dpop(token: str, value: str | list[str] | None) -> list[tuple[str, str]]:
    headers = [("Authorization", f"DPoP {token}")]
    for one in [value] if isinstance(value, str) else value or []:
        headers.append(("DPoP", one))
    return headers


_CHALLENGE = re.compile(r"(?:^|, )(Token|ActionToken|Bearer|DPoP) (?=\w+=)")


def challenges(header: str) -> dict[str, dict[str, str]]:
    """The auth-params of each challenge of a WWW-Authenticate value, by scheme, in order."""
    parts = _CHALLENGE.split(header)  # ["", scheme, params, scheme, params, ...]
    assert parts[0] == "", header
    return {
        scheme: dict(_PARAM.findall(params))
        for scheme, params in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.fixture
def bound(client: httpx.Client, browser: Browser, native_app: App, db: Database) -> tuple[str, Key]:
    """A read-write access token of a public app, bound to a fresh ES256 key."""
    token = access_token(client, browser, native_app, "service.read service.write openid")
    key = make_key("ES256")
    bind(db, token, key)
    return token, key


def _refused(answer: httpx.Response, code: str, settings: Settings) -> dict[str, str]:
    """The DPoP challenge's params of a 401 `code`, after checking the answer's shape."""
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == code
    found = challenges(answer.headers["www-authenticate"])
    metadata = settings.issuer.rstrip("/") + "/.well-known/oauth-protected-resource"
    assert list(found) == ["DPoP"]  # RFC 9449 §7.1: the scheme the client used, alone
    params = found["DPoP"]
    assert params["algs"] == ALGS
    assert params["resource_metadata"] == metadata  # RFC 9728 §5.1
    return params


def test_a_bound_token_with_its_proof_reads_and_writes(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    listed = client.get(
        API, headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token))
    )
    assert listed.status_code == 200, listed.text
    made = client.post(
        API,
        json={"name": "By DPoP"},
        headers=dpop(token, proof_for_token(key, "POST", url_of(settings, API), token)),
    )
    assert made.status_code == 201, made.text
    path = f"{API}{made.json()['data'][0]['id']}/"
    renamed = client.patch(
        path,
        json={"name": "Renamed"},
        headers=dpop(token, proof_for_token(key, "PATCH", url_of(settings, path), token)),
    )
    assert renamed.status_code == 200, renamed.text
    # The scheme word is case-insensitive (RFC 7235 §2.1); htu normalised (RFC 9449 §4.3 (9)).
    upper = url_of(settings, path).replace("http://", "HTTP://")
    fetched = client.get(
        path,
        headers=[
            ("Authorization", f"dpop {token}"),
            ("DPoP", proof_for_token(key, "GET", upper, token)),
        ],
    )
    assert fetched.status_code == 200, fetched.text


def test_the_query_is_not_part_of_htu(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    answer = client.get(
        API,
        params={"limit": 1},
        headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token)),
    )
    assert answer.status_code == 200, answer.text


def _case(name: str, **options: Any) -> Any:
    return pytest.param(options, id=name)


# Each: how the proof differs from a good one (RFC 9449 §4.3 and §11).
BAD_PROOFS = [
    _case("wrong-method", htm="POST"),
    _case("wrong-url-path", path="/api/v2/events/"),
    _case("wrong-url-host", htu="http://evil.example/api/v2/calendars/"),
    _case("stale-iat", iat_offset=-120),
    _case("future-iat", iat_offset=+60),
    _case("no-iat", claims={"iat": None}),
    _case("missing-ath", no_ath=True),
    _case("wrong-ath", ath="other-token"),
    _case("other-key", other_key=True),
    _case("rs256-other-key", other_key="RS256"),
    _case("no-jti", claims={"jti": None}),
    _case("alg-none", alg="none"),
    _case("alg-hs256", alg="HS256"),
    _case("typ-jwt", typ="JWT"),
    _case("private-jwk", private_jwk=True),
    _case("not-a-jwt", raw="not-a-jwt"),
    _case("garbage-segments", raw="a.b.c"),
    _case("no-proof", raw=[]),
    _case("two-proofs", twice=True),
]


def _bad_proof(key: Key, token: str, settings: Settings, options: dict[str, Any]) -> Any:
    if "raw" in options:
        return options["raw"]
    htu = options.get("htu") or url_of(settings, options.get("path", API))
    signer = (
        make_key(options["other_key"])
        if isinstance(options.get("other_key"), str)
        else (make_key() if options.get("other_key") else key)
    )
    extra: dict[str, Any] = {"claims": options.get("claims")}
    if "iat_offset" in options:
        extra["iat"] = int(time.time()) + options["iat_offset"]
    if "alg" in options:
        extra["alg"] = options["alg"]
    if "typ" in options:
        extra["typ"] = options["typ"]
    if options.get("private_jwk"):
        extra["jwk_member"] = dict(key.jwk.as_dict(private=True))
    if options.get("no_ath"):
        made = proof(signer, options.get("htm", "GET"), htu, **extra)
    else:
        made = proof(
            signer, options.get("htm", "GET"), htu, ath=ath_of(options.get("ath", token)), **extra
        )
    return [made, made] if options.get("twice") else made


@pytest.mark.parametrize("options", BAD_PROOFS)
def test_bad_proofs_are_invalid_dpop_proof(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key], options: dict[str, Any]
) -> None:
    token, key = bound
    answer = client.get(API, headers=dpop(token, _bad_proof(key, token, settings, options)))
    params = _refused(answer, "invalid_dpop_proof", settings)
    assert params["error"] == "invalid_dpop_proof"  # RFC 9449 §7.1
    assert params["error_description"] == answer.json()["error"]["message"]
    # The token itself is fine: a good proof still works after the refusal.
    good = proof_for_token(key, "GET", url_of(settings, API), token)
    assert client.get(API, headers=dpop(token, good)).status_code == 200


def test_a_replayed_proof_is_refused_even_with_the_token_cached(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    once = proof_for_token(key, "GET", url_of(settings, API), token)
    assert client.get(API, headers=dpop(token, once)).status_code == 200  # token now cached
    replayed = client.get(API, headers=dpop(token, once))
    params = _refused(replayed, "invalid_dpop_proof", settings)
    assert "jti" in params["error_description"]  # RFC 9449 §11.1


def test_the_exact_challenge_of_a_refused_proof(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    wrong = proof_for_token(key, "DELETE", url_of(settings, API), token)
    answer = client.get(API, headers=dpop(token, wrong))
    metadata = settings.issuer.rstrip("/") + "/.well-known/oauth-protected-resource"
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        f'DPoP realm="c42", resource_metadata="{metadata}", algs="{ALGS}", '
        'error="invalid_dpop_proof", '
        'error_description="The DPoP proof was made for another HTTP method (htm)."'
    )


def test_a_bound_token_sent_as_bearer_is_refused(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    """RFC 9449 §7.2: a DPoP-bound token MUST NOT be accepted as a Bearer token — in the
    header or in the (C42 compat) access_token query parameter, with or without a proof."""
    token, key = bound
    good = proof_for_token(key, "GET", url_of(settings, API), token)
    for answer in (
        client.get(API, headers=bearer(token)),
        client.get(API, headers={**bearer(token), "DPoP": good}),
        client.get(API, params={"access_token": token}),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_token"
        found = challenges(answer.headers["www-authenticate"])
        assert found["Bearer"]["error"] == "invalid_token"  # the scheme the client used
        assert "DPoP" in found["Bearer"]["error_description"]
        assert found["DPoP"]["algs"] == ALGS and "error" not in found["DPoP"]
    assert client.get(API, headers=dpop(token, good)).status_code == 200  # proof still unused


def test_an_unbound_token_sent_as_dpop_is_refused(
    client: httpx.Client, settings: Settings, browser: Browser, native_app: App
) -> None:
    token = access_token(client, browser, native_app, "service.read")
    key = make_key()
    answer = client.get(
        API, headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token))
    )
    params = _refused(answer, "invalid_token", settings)
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "This access token is not DPoP-bound."
    assert client.get(API, headers=bearer(token)).status_code == 200  # still a Bearer token


@pytest.mark.parametrize("token", ["unknown-token", "x" * 300])
def test_an_unknown_token_sent_as_dpop(
    client: httpx.Client, settings: Settings, token: str
) -> None:
    key = make_key()
    answer = client.get(
        API, headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token))
    )
    assert _refused(answer, "invalid_token", settings)["error"] == "invalid_token"


def test_a_revoked_bound_token_is_invalid_token(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key], native_app: App
) -> None:
    token, key = bound
    revoked = client.post(
        "/oauth2/revoke/", data={"token": token, "client_id": native_app.client_id}
    )
    assert revoked.status_code == 200, revoked.text
    answer = client.get(
        API, headers=dpop(token, proof_for_token(key, "GET", url_of(settings, API), token))
    )
    assert _refused(answer, "invalid_token", settings)["error"] == "invalid_token"


def test_no_credentials_lists_dpop_among_the_schemes(
    client: httpx.Client, settings: Settings
) -> None:
    answer = client.get(API)
    assert answer.status_code == 401
    found = challenges(answer.headers["www-authenticate"])
    assert list(found) == ["Token", "ActionToken", "Bearer", "DPoP"]
    assert found["DPoP"]["algs"] == ALGS  # RFC 9449 §7.1
    metadata = settings.issuer.rstrip("/") + "/.well-known/oauth-protected-resource"
    assert found["Bearer"]["resource_metadata"] == found["DPoP"]["resource_metadata"] == metadata


def test_a_read_only_bound_token_writing_gets_a_dpop_insufficient_scope(
    client: httpx.Client, settings: Settings, browser: Browser, native_app: App, db: Database
) -> None:
    token = access_token(client, browser, native_app, "service.read")
    key = make_key()
    bind(db, token, key)
    answer = client.post(
        API,
        json={"name": "x"},
        headers=dpop(token, proof_for_token(key, "POST", url_of(settings, API), token)),
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"
    found = challenges(answer.headers["www-authenticate"])
    assert found == {
        "DPoP": {
            "realm": "c42",
            "error": "insufficient_scope",
            "scope": "service.write",
            "algs": ALGS,
        }
    }


@pytest.mark.parametrize(
    "value",
    [
        "",
        "." * 2,
        "e30.e30.e30",
        "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.",
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjoxfQ.e30.AAAA",
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIn19.e30.AAAA",
        "A" * 8000,
        "e30." * 2000,
        "\u00e9t\u00e9.x.y",
    ],
    ids=lambda value: repr(value[:20]),
)
def test_garbage_proofs_are_never_a_500(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key], value: str
) -> None:
    token, _ = bound
    answer = client.get(
        API, headers=[("Authorization", f"DPoP {token}"), ("DPoP", value.encode("utf-8"))]
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "invalid_dpop_proof"


# -- UserInfo (OIDC Core §5.3) accepts bound tokens the same way ------------------------------


def test_userinfo_with_a_bound_token(
    client: httpx.Client, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    htu = url_of(settings, USERINFO)
    ok = client.get(USERINFO, headers=dpop(token, proof_for_token(key, "GET", htu, token)))
    assert ok.status_code == 200, ok.text
    assert ok.json()["sub"]
    posted = client.post(USERINFO, headers=dpop(token, proof_for_token(key, "POST", htu, token)))
    assert posted.status_code == 200, posted.text
    as_bearer = client.get(USERINFO, headers=bearer(token))
    assert as_bearer.status_code == 401
    assert challenges(as_bearer.headers["www-authenticate"])["Bearer"]["error"] == "invalid_token"
    as_form = client.post(USERINFO, data={"access_token": token})
    assert as_form.status_code == 401
    replay = proof_for_token(key, "GET", htu, token)
    assert client.get(USERINFO, headers=dpop(token, replay)).status_code == 200
    for bad in (
        replay,  # RFC 9449 §11.1: used once
        proof_for_token(key, "POST", htu, token),  # wrong method
        proof_for_token(key, "GET", url_of(settings, API), token),  # wrong URL
        proof_for_token(make_key(), "GET", htu, token),  # another key
        proof(key, "GET", htu),  # no ath
    ):
        refused = client.get(USERINFO, headers=dpop(token, bad))
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_dpop_proof"
        found = challenges(refused.headers["www-authenticate"])
        assert list(found) == ["DPoP"] and found["DPoP"]["error"] == "invalid_dpop_proof"


def test_userinfo_refuses_an_unbound_token_as_dpop(
    client: httpx.Client, settings: Settings, browser: Browser, native_app: App
) -> None:
    token = access_token(client, browser, native_app, "openid")
    htu = url_of(settings, USERINFO)
    answer = client.get(
        USERINFO, headers=dpop(token, proof_for_token(make_key(), "GET", htu, token))
    )
    assert answer.status_code == 401
    assert challenges(answer.headers["www-authenticate"])["DPoP"]["error"] == "invalid_token"
    assert client.get(USERINFO, headers=bearer(token)).status_code == 200


# -- Server nonces (RFC 9449 §9) ------------------------------------------------------------


@pytest.fixture(scope="module")
def nonce_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """The app with C42_DPOP_REQUIRE_NONCE on the same database."""
    live = LiveServer(settings.model_copy(update={"dpop_require_nonce": True}), db)
    live.start()
    yield live
    live.stop()


def test_the_nonce_flow(
    nonce_server: LiveServer, settings: Settings, bound: tuple[str, Key]
) -> None:
    token, key = bound
    htu = url_of(settings, API)
    with httpx.Client(base_url=nonce_server.url, timeout=30) as http:
        first = http.get(API, headers=dpop(token, proof_for_token(key, "GET", htu, token)))
        params = _refused(first, "use_dpop_nonce", settings)
        assert params["error"] == "use_dpop_nonce"
        assert len(first.headers.get_list("dpop-nonce")) == 1
        nonce = first.headers["dpop-nonce"]
        wrong = http.get(
            API, headers=dpop(token, proof_for_token(key, "GET", htu, token, nonce="x" * 24))
        )
        assert _refused(wrong, "use_dpop_nonce", settings)["error"] == "use_dpop_nonce"
        current = Nonces(settings.resolved_secret_key())
        assert current.valid(wrong.headers["dpop-nonce"])  # this one, or the next slot's
        ok = http.get(
            API, headers=dpop(token, proof_for_token(key, "GET", htu, token, nonce=nonce))
        )
        assert ok.status_code == 200, ok.text
        assert len(ok.headers["dpop-nonce"]) == 24  # RFC 9449 §9: the next nonce, unasked
        userinfo = url_of(settings, USERINFO)
        asked = http.get(
            USERINFO, headers=dpop(token, proof_for_token(key, "GET", userinfo, token))
        )
        assert asked.status_code == 401
        assert current.valid(asked.headers["dpop-nonce"])
        assert challenges(asked.headers["www-authenticate"])["DPoP"]["error"] == "use_dpop_nonce"
        answered = http.get(
            USERINFO, headers=dpop(token, proof_for_token(key, "GET", userinfo, token, nonce=nonce))
        )
        assert answered.status_code == 200, answered.text


# -- CORS: a browser app sends the DPoP header and reads DPoP-Nonce --------------------------


@pytest.mark.parametrize("path", [API, USERINFO, "/oauth2/token/"])
def test_preflight_allows_the_dpop_header(
    client: httpx.Client, db: Database, settings: Settings, service_id: str, path: str
) -> None:
    origin = "https://spa-dpop.example"
    make_app(
        db, settings, service_id, public=True, redirect_uris=[f"{origin}/cb"], cors_origins=[origin]
    )
    answer = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, dpop",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "dpop"} <= allowed
    other = client.options(
        path,
        headers={
            "Origin": "https://unregistered.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, dpop",
        },
    )
    assert "access-control-allow-headers" not in other.headers


def test_a_page_reads_dpop_nonce_and_the_challenge(
    nonce_server: LiveServer,
    db: Database,
    settings: Settings,
    service_id: str,
    browser: Browser,
    client: httpx.Client,
) -> None:
    origin = "https://spa-nonce.example"
    app = make_app(
        db, settings, service_id, public=True, redirect_uris=[f"{origin}/cb"], cors_origins=[origin]
    )
    token = access_token(client, browser, app, "service.read")
    key = make_key()
    bind(db, token, key)
    with httpx.Client(base_url=nonce_server.url, timeout=30) as http:
        answer = http.get(
            API,
            headers=[
                ("Origin", origin),
                *dpop(token, proof_for_token(key, "GET", url_of(settings, API), token)),
            ],
        )
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == origin
    exposed = {
        h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
    }
    assert {"dpop-nonce", "www-authenticate"} <= exposed
