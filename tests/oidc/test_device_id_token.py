"""OpenID Connect on the device grant (RFC 8628, SPEC §10-§11): a device token whose scope holds
`openid` comes with an id_token, validated here by Authlib's relying party against the JWKS
of the discovery document (signature, iss, aud, exp, at_hash). Its `auth_time` is when the
person logged in to the browser that allowed the code on /device/ — not the time the device
polled — and a refresh keeps `sub` and `auth_time` (OIDC Core §12.2). No `nonce`: a device
authorization request has none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc.errors import InvalidClaimError
from sqlalchemy import select, update

from c42.db import Database
from c42.models import BrowserSession, OAuthDeviceCode, OAuthToken, OIDCGrant, User, utcnow
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, make_app
from tests.oauth.test_rfc8628_device import decide, error_of, poll, start, started
from tests.oidc.helpers import RelyingParty, relying_party

LOGGED_IN_AGO = timedelta(hours=2)  # long before the device polls: a max_age check must see it


@pytest.fixture
def tv_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, public=True, device=True)


@pytest.fixture(scope="module")
def login_time(db: Database, browser: Browser) -> Iterator[int]:
    """The module's browser logged in LOGGED_IN_AGO (its session's auth_time moved back), so
    that the login's time and the poll's cannot be mistaken for one another."""
    assert browser.person is not None
    with db.session() as session:
        row = session.scalars(
            select(BrowserSession)
            .where(BrowserSession.user_id == browser.person.id)
            .where(BrowserSession.revoked_at.is_(None))
        ).one()
        moved = row.auth_time - LOGGED_IN_AGO
        row.auth_time = moved
    yield int(moved.replace(tzinfo=UTC).timestamp())


def device_token(client: httpx.Client, app: App, browser: Browser, scope: str) -> dict[str, Any]:
    """Ask for a device code, allow it on /device/, poll once: the token response."""
    body = started(client, app, scope=scope)
    assert decide(browser, body["user_code"], "allow").status_code == 200
    answer = poll(client, app, body["device_code"])
    assert answer.status_code == 200, answer.text
    token: dict[str, Any] = answer.json()
    return token


def validated(rp: RelyingParty, server: LiveServer, app: App, token: dict[str, Any]) -> Any:
    """Authlib's own checks (JWKS signature, exp, iat, at_hash against this access token),
    with iss and aud required to be ours and auth_time essential."""
    options = {
        "iss": {"essential": True, "values": [server.url]},
        "aud": {"essential": True, "values": [app.client_id]},
        "auth_time": {"essential": True},
    }
    return rp.parse_id_token(token, nonce=None, claims_options=options)


def refresh(client: httpx.Client, app: App, refresh_token: str) -> dict[str, Any]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    answer = client.post("/oauth2/token/", data={**form, "client_id": app.client_id})
    assert answer.status_code == 200, answer.text
    token: dict[str, Any] = answer.json()
    return token


def test_device_token_with_openid_has_an_id_token_of_the_login(
    server: LiveServer,
    client: httpx.Client,
    tv_app: App,
    browser: Browser,
    login_time: int,
    db: Database,
) -> None:
    token = device_token(client, tv_app, browser, "openid profile")
    assert token["scope"] == "openid profile"
    rp = relying_party(server.url, tv_app, scope="openid profile")
    claims = validated(rp, server, tv_app, token)
    assert browser.person is not None
    assert claims["sub"] == browser.person.id
    assert claims["aud"] == tv_app.client_id and claims["azp"] == tv_app.client_id
    assert "at_hash" in claims
    assert "nonce" not in claims  # RFC 8628 §3.1 has no nonce
    assert "email" not in claims  # not granted
    assert "updated_at" in claims  # the profile scope's claims, as in the code flow
    # The login's time (the browser session's), not the poll's.
    assert abs(claims["auth_time"] - login_time) <= 1, (claims["auth_time"], login_time)
    assert claims["iat"] - claims["auth_time"] >= LOGGED_IN_AGO.total_seconds() - 5
    # A client checking max_age=3600 must see the login as too old.
    assert claims["iat"] - claims["auth_time"] > 3600

    # A refresh keeps sub and auth_time (OIDC Core §12.2), a new at_hash for the new token.
    refreshed = refresh(client, tv_app, token["refresh_token"])
    again = validated(rp, server, tv_app, refreshed)
    assert again["sub"] == claims["sub"]
    assert again["auth_time"] == claims["auth_time"]
    assert again["at_hash"] != claims["at_hash"]
    assert "nonce" not in again
    # And the one after it (the family's login, not the previous token's).
    third = validated(rp, server, tv_app, refresh(client, tv_app, refreshed["refresh_token"]))
    assert third["auth_time"] == claims["auth_time"]

    # The id_token is bound to its access token: another token's at_hash does not match.
    swapped = {**token, "access_token": refreshed["access_token"]}
    with pytest.raises(InvalidClaimError):
        validated(rp, server, tv_app, swapped)


def test_the_login_time_is_stored_with_the_decision(
    client: httpx.Client, tv_app: App, browser: Browser, login_time: int, db: Database
) -> None:
    device_token(client, tv_app, browser, "openid")
    with db.session(write=False) as session:
        row = session.scalars(
            select(OAuthDeviceCode).where(OAuthDeviceCode.app_id == tv_app.id)
        ).one()
        family = session.scalars(
            select(OAuthToken.family_id).where(OAuthToken.app_id == tv_app.id)
        ).one()
        grant = session.get(OIDCGrant, family)
    assert row.auth_time is not None and grant is not None
    assert abs(_epoch(row.auth_time) - login_time) <= 1
    assert grant.auth_time == row.auth_time  # the family's, for its refreshes


def test_without_openid_no_id_token(
    client: httpx.Client, tv_app: App, browser: Browser, login_time: int, db: Database
) -> None:
    token = device_token(client, tv_app, browser, "service.read")
    assert "id_token" not in token
    refreshed = refresh(client, tv_app, token["refresh_token"])
    assert "id_token" not in refreshed
    with db.session(write=False) as session:
        families = session.scalars(
            select(OAuthToken.family_id).where(OAuthToken.app_id == tv_app.id)
        ).all()
        assert families
        assert (
            session.scalars(select(OIDCGrant).where(OIDCGrant.family_id.in_(families))).all() == []
        )


def test_a_refresh_narrowed_without_openid_has_no_id_token(
    client: httpx.Client, tv_app: App, browser: Browser, login_time: int
) -> None:
    token = device_token(client, tv_app, browser, "openid service.read")
    assert "id_token" in token
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    form |= {"client_id": tv_app.client_id, "scope": "service.read"}
    narrowed = client.post("/oauth2/token/", data=form)
    assert narrowed.status_code == 200, narrowed.text
    assert "id_token" not in narrowed.json()


def test_a_code_allowed_before_the_login_time_was_kept_has_no_auth_time(
    server: LiveServer,
    client: httpx.Client,
    tv_app: App,
    browser: Browser,
    login_time: int,
    db: Database,
) -> None:
    """A device code allowed before migration 0013 has no login time: its id_token leaves
    `auth_time` out (a client asking max_age then refuses it) rather than claim a login now."""
    body = started(client, tv_app, scope="openid")
    assert decide(browser, body["user_code"], "allow").status_code == 200
    with db.session() as session:
        session.execute(
            update(OAuthDeviceCode)
            .where(OAuthDeviceCode.app_id == tv_app.id)
            .values(auth_time=None)
        )
    answer = poll(client, tv_app, body["device_code"])
    assert answer.status_code == 200, answer.text
    rp = relying_party(server.url, tv_app, scope="openid")
    claims = rp.parse_id_token(answer.json(), nonce=None)
    assert "auth_time" not in claims
    assert claims["iat"] >= _epoch(utcnow()) - 60
    refreshed = refresh(client, tv_app, answer.json()["refresh_token"])
    assert "auth_time" not in rp.parse_id_token(refreshed, nonce=None)


def test_an_account_deactivated_after_allowing_gets_no_id_token(
    client: httpx.Client, tv_app: App, fresh_browser: Callable[[], Browser], db: Database
) -> None:
    """As for an authorization code: an account that can no longer act gets no tokens, so no
    id_token names it either."""
    someone = fresh_browser()
    assert someone.person is not None
    body = started(client, tv_app, scope="openid profile")
    assert decide(someone, body["user_code"], "allow").status_code == 200
    with db.session() as session:
        session.execute(update(User).where(User.id == someone.person.id).values(is_active=False))
    answer = poll(client, tv_app, body["device_code"])
    assert error_of(answer) == "invalid_grant"
    assert "id_token" not in answer.json()


def test_an_app_without_the_device_grant_cannot_ask_openid_there(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    web = make_app(db, settings, service_id, public=True)  # not flagged --device
    assert error_of(start(client, web, scope="openid")) == "unauthorized_client"


def test_openid_beside_a_scope_the_app_may_not_ask_is_refused(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    """RFC 6749 §3.3: the device authorization request is refused, not narrowed."""
    narrow = make_app(db, settings, service_id, public=True, device=True, scopes=["service.read"])
    assert error_of(start(client, narrow, scope="openid service.write")) == "invalid_scope"
    with db.session(write=False) as session:
        assert (
            session.scalars(
                select(OAuthDeviceCode).where(OAuthDeviceCode.app_id == narrow.id)
            ).all()
            == []
        )


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())
