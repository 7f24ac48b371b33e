"""Signing keys (SPEC §10): the JWKS, keys sealed at rest, rotation between two logins with
Authlib's relying party, retirement, the per-process cache, and `c42 keys` run as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from joserfc import jws
from sqlalchemy import select

from c42.auth.oidc import keys
from c42.db import Database
from c42.models import OIDCSigningKey
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser
from tests.oidc.helpers import relying_party, sign_in


def _header(id_token: str) -> dict[str, object]:
    return dict(jws.extract_compact(id_token.encode()).protected)


def _jwks(server: LiveServer) -> httpx.Response:
    answer = httpx.get(f"{server.url}/oauth2/jwks/")
    assert answer.status_code == 200, answer.text
    return answer


def test_jwks_publishes_public_keys_only_and_is_cacheable_for_a_minute_at_most(
    server: LiveServer,
) -> None:
    answer = _jwks(server)
    published = answer.json()["keys"]
    assert published, "the first key is made on first use"
    for jwk in published:
        assert jwk["use"] == "sig" and jwk["alg"] in ("RS256", "ES256") and jwk["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)  # no private parts
    max_age = int(answer.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= 60


def test_private_keys_are_sealed_with_the_server_key(
    server: LiveServer, db: Database, settings: Settings
) -> None:
    _jwks(server)
    server_key = settings.resolved_secret_key()
    with db.session(write=False) as session:
        row = session.scalars(select(OIDCSigningKey)).first()
        assert row is not None
        private = keys.unseal(server_key, row.kid, row.sealed_private_key)
        assert private["d"] not in row.sealed_private_key
        assert private["d"] not in json.dumps(row.public_jwk)
        with pytest.raises(InvalidTag):
            keys.unseal("another-server-key-" + "y" * 32, row.kid, row.sealed_private_key)
        with pytest.raises(InvalidTag):  # the kid is bound to the sealed key
            keys.unseal(server_key, "another-kid", row.sealed_private_key)


def test_key_rotation_between_two_logins(
    server: LiveServer, db: Database, settings: Settings, browser: Browser, web_app: App
) -> None:
    rp = relying_party(server.url, web_app)
    before = sign_in(rp, browser, web_app.redirect_uri)
    old_kid = _header(before.token["id_token"])["kid"]
    with db.session() as session:
        # At once (`c42 keys rotate --now`): Authlib refetches the JWKS for an unknown kid.
        new = keys.create(session, settings.resolved_secret_key(), "ES256", activate_in=0)
        new_kid = new.kid
    # A relying party that cached the old JWKS: Authlib refetches it for an unknown kid.
    after = sign_in(rp, browser, web_app.redirect_uri)
    header = _header(after.token["id_token"])
    assert header["kid"] == new_kid != old_kid and header["alg"] == "ES256"
    published = {jwk["kid"] for jwk in _jwks(server).json()["keys"]}
    assert {old_kid, new_kid} <= published
    # The id_token signed before the rotation still verifies, by a relying party that has
    # never seen it.
    fresh = relying_party(server.url, web_app)
    assert fresh.parse_id_token(before.token, nonce=before.nonce)["sub"] == before.claims["sub"]
    # Retired, the old key is no longer published and its id_tokens no longer verify.
    with db.session() as session:
        keys.retire(session, str(old_kid))
    assert old_kid not in {jwk["kid"] for jwk in _jwks(server).json()["keys"]}
    with pytest.raises(Exception, match=r"kid|key"):
        relying_party(server.url, web_app).parse_id_token(before.token, nonce=before.nonce)


def test_a_new_key_is_published_before_it_signs(
    server: LiveServer, db: Database, settings: Settings, browser: Browser, web_app: App
) -> None:
    """A relying party that fetched the JWKS after the rotation, then keeps its copy, verifies
    the id_tokens signed once the new key is active without fetching again."""
    with db.session() as session:
        new = keys.create(session, settings.resolved_secret_key(), "RS256", activate_in=3)
        new_kid = new.kid
    assert keys.ACTIVATION_SECONDS >= 60 + keys.CACHE_SECONDS
    rp = relying_party(server.url, web_app)
    before = sign_in(rp, browser, web_app.redirect_uri)
    assert _header(before.token["id_token"])["kid"] != new_kid  # published, not signing yet
    assert new_kid in {jwk["kid"] for jwk in rp.fetch_jwk_set()["keys"]}
    time.sleep(3.5)
    cached = rp.server_metadata["jwks"]
    after = sign_in(rp, browser, web_app.redirect_uri)
    assert _header(after.token["id_token"])["kid"] == new_kid
    assert rp.server_metadata["jwks"] is cached  # verified with the copy fetched before


def test_the_signing_key_cannot_be_retired(db: Database, settings: Settings) -> None:
    from c42.errors import InvalidRequest

    with db.session() as session:
        signing = keys.ring(session, settings.resolved_secret_key()).signing()[0]
        assert signing == keys.signing_kid(keys.live(session))
        with pytest.raises(InvalidRequest):
            keys.retire(session, signing)


def test_a_rotation_by_another_process_is_used_within_the_cache_time(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert keys.CACHE_SECONDS <= 60
    server_key = settings.resolved_secret_key()
    with db.session() as session:
        before = keys.ring(session, server_key)
    # Another process rotates: this one's cache is not told.
    monkeypatch.setattr(keys, "forget", lambda: None)
    with db.session() as session:
        rotated = keys.create(session, server_key, "RS256", activate_in=0).kid
    clock = keys.time.monotonic()
    monkeypatch.setattr(keys.time, "monotonic", lambda: clock + 1)
    with db.session() as session:
        assert keys.ring(session, server_key).signing()[0] == before.signing()[0]  # cached
    monkeypatch.setattr(keys.time, "monotonic", lambda: clock + keys.CACHE_SECONDS + 1)
    with db.session() as session:
        assert keys.ring(session, server_key).signing()[0] == rotated
    monkeypatch.undo()
    keys.forget()  # no ring stamped with the fake clock is left for the tests after this one


def _c42(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "c42"
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.resolved_secret_key(),
    }
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _c42_json(settings: Settings, *args: str) -> Any:
    done = _c42(settings, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_cli_keys_list_rotate_retire(server: LiveServer, settings: Settings) -> None:
    _jwks(server)  # a key signs already (the first is made on first use)
    upcoming = _c42_json(settings, "keys", "rotate", "--json")
    assert upcoming["alg"] == "RS256" and upcoming["status"] == "next"
    keys.forget()
    assert upcoming["kid"] in {jwk["kid"] for jwk in _jwks(server).json()["keys"]}
    made = _c42_json(settings, "keys", "rotate", "--alg", "ES256", "--now", "--json")
    assert made["alg"] == "ES256" and made["status"] == "signing"
    keys.forget()  # this process's cache (the server's): a restart, or CACHE_SECONDS later
    assert made["kid"] in {jwk["kid"] for jwk in _jwks(server).json()["keys"]}
    listed = _c42_json(settings, "keys", "list", "--json")
    statuses = {row["kid"]: row["status"] for row in listed}
    assert statuses[made["kid"]] == "signing" and statuses[upcoming["kid"]] == "next"
    previous = next(kid for kid, status in statuses.items() if status == "published")
    # `--`: a kid is a base64url thumbprint, which starts with "-" one time in 64
    refused = _c42(settings, "keys", "retire", "--", made["kid"])
    assert refused.returncode != 0 and "rotate" in refused.stderr
    assert _c42(settings, "keys", "retire", "--", previous).returncode == 0
    keys.forget()
    assert previous not in {jwk["kid"] for jwk in _jwks(server).json()["keys"]}
    text = _c42(settings, "keys", "list").stdout
    assert "retired" in text and made["kid"] in text
    unknown = _c42(settings, "keys", "rotate", "--alg", "HS256")
    assert unknown.returncode == 2
