"""User Tokens (SPEC §5.1): obtained with e-mail and password, 160 random bits as 40
lowercase hex shown once, stored only as a SHA-256 digest; names, expiry, last_used,
revocation, inactive users; never a 500."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.models import User, UserToken, utcnow
from tests.factories import Factory, Person
from tests.resources.checks import assert_error

PASSWORD = "a long enough password 42"
HEX40 = re.compile(r"[0-9a-f]{40}")
TOKENS = "/api/v2/user-tokens/"


def _obtain(client: httpx.Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(TOKENS, json={"email": email, "password": password, **extra})


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _works(client: httpx.Client, token: str) -> int:
    return client.get("/api/v2/events/", params={"limit": 0}, headers=_auth(token)).status_code


def _assert_401(response: httpx.Response, code: str = "invalid_token") -> None:
    assert_error(response, 401, code)
    challenge = response.headers.get("www-authenticate", "")
    assert "Token" in challenge, response.headers


@pytest.fixture(scope="module")
def ann(db: Database, settings: Any) -> Person:
    """One user with a password for the module (argon2 makes each new password costly)."""
    return Factory(db, settings).user(password=PASSWORD, prefix="ann")


def test_obtain_a_token_with_email_and_password(
    client: httpx.Client, ann: Person, db: Database
) -> None:
    response = _obtain(client, ann.email, name="laptop", expires_in=3600)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["meta_data"]["count"] == 1
    data = body["data"][0]
    assert HEX40.fullmatch(data["token"])
    assert data["name"] == "laptop"
    assert "server token" in data["warning"]
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    assert _works(client, data["token"]) == 200
    # stored only as its SHA-256 digest: no column of any token row holds the secret
    with db.session(write=False) as s:
        row = s.get(UserToken, data["id"])
        assert row is not None
        assert row.digest == hashlib.sha256(data["token"].encode()).hexdigest()
        stored = [str(v) for r in s.execute(select(UserToken.__table__)).all() for v in r]
    assert not any(data["token"] in value for value in stored)


def test_email_is_matched_case_insensitively(client: httpx.Client, ann: Person) -> None:
    response = _obtain(client, "  " + ann.email.upper() + " ")
    assert response.status_code == 201, response.text


def test_each_token_is_new_and_random(client: httpx.Client, ann: Person) -> None:
    tokens = {_obtain(client, ann.email).json()["data"][0]["token"] for _ in range(2)}
    assert len(tokens) == 2


def test_list_never_shows_the_secret(client: httpx.Client, ann: Person) -> None:
    created = _obtain(client, ann.email, name="cli").json()["data"][0]
    listing = client.get(TOKENS, headers=_auth(created["token"]))
    assert listing.status_code == 200, listing.text
    assert created["token"] not in listing.text
    tokens = listing.json()["data"]
    mine = next(t for t in tokens if t["id"] == created["id"])
    assert set(mine) == {"id", "name", "created", "last_used", "expires_at"}
    assert mine["name"] == "cli"
    # the factory's token and this one: the list is the caller's own tokens only
    assert {t["id"] for t in tokens} >= {created["id"]}
    assert all("token" not in t for t in tokens)
    assert listing.json()["meta_data"]["count"] == len(tokens)


def test_list_shows_only_the_callers_tokens(
    client: httpx.Client, ann: Person, factory: Factory
) -> None:
    bob = factory.user(password=PASSWORD)
    ann_token = _obtain(client, ann.email).json()["data"][0]
    bob_listing = client.get(TOKENS, headers=bob.headers).json()["data"]
    assert ann_token["id"] not in {t["id"] for t in bob_listing}


def test_last_used_is_recorded(client: httpx.Client, ann: Person) -> None:
    created = _obtain(client, ann.email).json()["data"][0]
    other = _obtain(client, ann.email).json()["data"][0]

    def last_used() -> str | None:
        listed = client.get(TOKENS, headers=_auth(other["token"])).json()["data"]
        value: str | None = next(t for t in listed if t["id"] == created["id"])["last_used"]
        return value

    assert last_used() is None
    assert _works(client, created["token"]) == 200
    used = last_used()
    assert used is not None
    used_at = datetime.fromisoformat(used.replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - used_at) < timedelta(minutes=1)


def test_expired_token_is_401(client: httpx.Client, ann: Person, db: Database) -> None:
    created = _obtain(client, ann.email, expires_in=60).json()["data"][0]
    with db.session() as s:
        s.execute(
            update(UserToken)
            .where(UserToken.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    _assert_401(client.get("/api/v2/events/", headers=_auth(created["token"])))


def test_token_expires_while_cached(client: httpx.Client, ann: Person, db: Database) -> None:
    """Expiry is checked on every request, not only when the look-up is cached."""
    with db.session() as s:
        created = user_tokens.create(s, ann.id, "short", expires_in=1)
    assert _works(client, created.token) == 200
    time.sleep(1.2)
    _assert_401(client.get("/api/v2/events/", headers=_auth(created.token)))


def test_revocation_stops_the_token_at_once(client: httpx.Client, ann: Person) -> None:
    first = _obtain(client, ann.email).json()["data"][0]
    second = _obtain(client, ann.email).json()["data"][0]
    assert _works(client, first["token"]) == 200  # now in the credential cache
    revoked = client.delete(f"{TOKENS}{first['id']}/", headers=_auth(second["token"]))
    assert revoked.status_code == 204
    _assert_401(client.get("/api/v2/events/", headers=_auth(first["token"])))
    listed = client.get(TOKENS, headers=_auth(second["token"])).json()["data"]
    assert first["id"] not in {t["id"] for t in listed}
    again = client.delete(f"{TOKENS}{first['id']}/", headers=_auth(second["token"]))
    assert_error(again, 404, "not_found")


def test_a_token_can_revoke_itself(client: httpx.Client, ann: Person) -> None:
    created = _obtain(client, ann.email).json()["data"][0]
    gone = client.delete(f"{TOKENS}{created['id']}/", headers=_auth(created["token"]))
    assert gone.status_code == 204
    _assert_401(client.get(TOKENS, headers=_auth(created["token"])))


def test_another_users_token_id_is_404(client: httpx.Client, ann: Person, factory: Factory) -> None:
    bob = factory.user()
    created = _obtain(client, ann.email).json()["data"][0]
    response = client.delete(f"{TOKENS}{created['id']}/", headers=bob.headers)
    assert_error(response, 404, "not_found")
    assert _works(client, created["token"]) == 200
    assert_error(client.delete(f"{TOKENS}{'0' * 32}/", headers=bob.headers), 404, "not_found")


def test_inactive_user_gets_no_token_and_loses_their_tokens(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann = factory.user(password=PASSWORD, prefix="inactive")
    created = _obtain(client, ann.email).json()["data"][0]
    assert _works(client, created["token"]) == 200
    with db.session() as s:
        s.execute(update(User).where(User.id == ann.id).values(is_active=False))
    # C42 caches a credential look-up for at most one second (C42_TOKEN_CACHE_SECONDS)
    time.sleep(1.1)
    _assert_401(client.get("/api/v2/events/", headers=_auth(created["token"])), "inactive_user")
    _assert_401(client.get("/api/v2/events/", headers=ann.headers), "inactive_user")
    refused = _obtain(client, ann.email)
    assert_error(refused, 401, "inactive_user")
    with db.session() as s:
        s.execute(update(User).where(User.id == ann.id).values(is_active=True))
    time.sleep(1.1)
    assert _works(client, created["token"]) == 200


def test_wrong_password_and_unknown_user_look_the_same(client: httpx.Client, ann: Person) -> None:
    wrong = _obtain(client, ann.email, "not the password")
    unknown = _obtain(client, "nobody-" + ann.email)
    malformed = _obtain(client, "not an address")
    no_password = _obtain(client, ann.email, "")
    for response in (wrong, unknown, malformed, no_password):
        error = assert_error(response, 401, "invalid_credentials")
        assert error["message"] == wrong.json()["error"]["message"]
        assert "token" not in response.text.lower() or "invalid" in response.text.lower()


def test_user_without_password_cannot_obtain_a_token(
    client: httpx.Client, factory: Factory
) -> None:
    nopass = factory.user()  # e.g. an invited placeholder account
    assert_error(_obtain(client, nopass.email, "anything at all"), 401, "invalid_credentials")


def test_listing_and_revoking_need_a_user_token(client: httpx.Client, ann: Person) -> None:
    for method, path in (("GET", TOKENS), ("DELETE", f"{TOKENS}{'0' * 32}/")):
        response = client.request(method, path)
        assert_error(response, 401)
        assert response.headers.get("www-authenticate")
