"""SPEC §5.4 outcome table of `/oauth2/authorize/?...&email_address=...`, row by row, on the
wire: always a redirect to the app's redirect URI (never a login or consent page), with a
`code` or an `error`, the `state`, and RFC 9207's `iss`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from c42.db import Database
from c42.models import OAuthApp, ServiceSubscription
from c42.settings import Settings
from tests.factories import Factory
from tests.silent.helpers import (
    App,
    address,
    bearer,
    exchange,
    make_app,
    params,
    pkce,
    sandbox_token,
    sandbox_users,
    silent,
)

ISSUER = "http://127.0.0.1:8042"  # the test settings' default issuer


def test_success_creates_a_sandbox_user_subscribed_to_the_service(
    client: httpx.Client, db: Database, app: App
) -> None:
    email = address()
    query = silent(client, app, email)
    assert set(query) == {"code", "state", "iss"}
    assert query["iss"] == ISSUER  # RFC 9207 §2
    [user] = sandbox_users(db, email)
    assert user.sandbox_service_id == app.service_id
    assert (user.is_active, user.email_verified, user.password_hash) == (True, False, None)
    assert user.closed_at is None
    with db.session(write=False) as session:
        subscription = session.scalar(
            select(ServiceSubscription).where(ServiceSubscription.user_id == user.id)
        )
    assert subscription is not None and subscription.service_id == app.service_id
    assert subscription.is_active and not subscription.is_admin

    token = exchange(client, app, query["code"])
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    assert set(body["scope"].split()) == {"service.read", "service.write"}
    listed = client.get("/api/v2/calendars/", headers=bearer(body))
    assert listed.status_code == 200 and listed.json()["data"] == []


def test_success_reuses_the_open_sandbox_of_the_address(
    client: httpx.Client, db: Database, app: App
) -> None:
    email = address()
    first = sandbox_token(client, app, email)
    calendar = client.post("/api/v2/calendars/", json={"name": "Kept"}, headers=bearer(first))
    assert calendar.status_code == 201
    second = sandbox_token(client, app, email)
    assert len(sandbox_users(db, email)) == 1
    seen = client.get(
        f"/api/v2/calendars/{calendar.json()['data'][0]['id']}/", headers=bearer(second)
    )
    assert seen.status_code == 200


def test_refresh_works_as_usual(client: httpx.Client, app: App) -> None:
    token = sandbox_token(client, app, address())
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    renewed = client.post("/oauth2/token/", data=form, auth=app.auth)
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["refresh_token"] != token["refresh_token"]  # rotated
    assert client.get("/api/v2/events/", headers=bearer(fresh)).status_code == 200
    # Presented again within the refresh grace: the pair its rotation issued, once more.
    again = client.post("/oauth2/token/", data=form, auth=app.auth)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == fresh["refresh_token"]
    onward = {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
    assert client.post("/oauth2/token/", data=onward, auth=app.auth).status_code == 200
    spent = client.post("/oauth2/token/", data=form, auth=app.auth)
    assert spent.json()["error"] == "invalid_grant"  # its successor rotated: it is spent


def test_the_code_is_bound_to_the_app_and_single_use(
    client: httpx.Client, db: Database, settings: Settings, app: App
) -> None:
    query = silent(client, app, address())
    other = make_app(db, settings, app.service_id, redirect_uri=app.redirect_uri)
    stolen = exchange(client, other, query["code"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert exchange(client, app, query["code"]).status_code == 200
    replay = exchange(client, app, query["code"])
    assert replay.json()["error"] == "invalid_grant"


# -- who blocks an address: the rows of SPEC §5.4 ------------------------------------------


def _activated(factory: Factory, service_id: str) -> str:
    return factory.user().email  # active and verified, unrelated to the service


def _unverified_subscribed(factory: Factory, service_id: str) -> str:
    person = factory.user(active=False, verified=False)
    factory.subscribe(service_id, person)
    return person.email


def _inactive_subscription(factory: Factory, service_id: str) -> str:
    person = factory.user(active=False, verified=False)
    factory.subscribe(service_id, person, active=False)
    return person.email


def _service_admin(factory: Factory, service_id: str) -> str:
    admin = factory.user(active=False, verified=False)
    with factory.db.session() as session:
        session.add(ServiceSubscription(service_id=service_id, user_id=admin.id, is_admin=True))
    return admin.email


def _active_unverified_subscribed(factory: Factory, service_id: str) -> str:
    person = factory.user(verified=False)
    factory.subscribe(service_id, person)
    return person.email


@pytest.mark.parametrize(
    "make_owner",
    [
        _activated,
        _unverified_subscribed,
        _inactive_subscription,
        _service_admin,
        _active_unverified_subscribed,
    ],
    ids=[
        "activated-account",
        "unverified-but-subscribed",
        "inactive-service-subscription",
        "service-admin",
        "active-unverified-subscribed",
    ],
)
def test_interaction_required(
    client: httpx.Client,
    db: Database,
    factory: Factory,
    app: App,
    make_owner: Callable[[Factory, str], str],
) -> None:
    email = make_owner(factory, app.service_id)
    query = silent(client, app, email.upper())  # compared on the normal form
    assert query["error"] == "interaction_required"
    assert "normal authorization flow" in query["error_description"]
    assert query["iss"] == ISSUER and "code" not in query
    assert sandbox_users(db, email) == []


def _registered_never_verified(factory: Factory, service_id: str) -> str:
    return factory.user(active=False, verified=False).email


def _active_unverified(factory: Factory, service_id: str) -> str:
    return factory.user(verified=False).email


def _deactivated(factory: Factory, service_id: str) -> str:
    return factory.user(active=False).email  # verified once, is_active false: not "activated"


def _subscribed_elsewhere(factory: Factory, service_id: str) -> str:
    person = factory.user(active=False, verified=False)
    factory.subscribe(factory.service("Another service"), person)
    return person.email


@pytest.mark.parametrize(
    "make_owner",
    [_registered_never_verified, _active_unverified, _deactivated, _subscribed_elsewhere],
    ids=[
        "registered-never-verified",
        "active-unverified",
        "deactivated",
        "unverified-subscribed-to-another-service",
    ],
)
def test_accounts_that_do_not_block(
    client: httpx.Client,
    db: Database,
    factory: Factory,
    app: App,
    make_owner: Callable[[Factory, str], str],
) -> None:
    email = make_owner(factory, app.service_id)
    query = silent(client, app, email)
    assert "code" in query, query
    [user] = sandbox_users(db, email)
    assert user.sandbox_service_id == app.service_id


@pytest.mark.parametrize(
    "scope",
    ["openid", "service.read profile", "service.admin", "email", "service.write offline_access"],
)
def test_invalid_scope(client: httpx.Client, db: Database, app: App, scope: str) -> None:
    email = address()
    query = silent(client, app, email, scope=scope)
    assert query["error"] == "invalid_scope" and query["iss"] == ISSUER
    assert sandbox_users(db, email) == []


def test_invalid_scope_beyond_what_the_app_may_ask(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    reader = make_app(db, settings, service_id, scopes=["service.read"])
    email = address()
    assert silent(client, reader, email, scope="service.write")["error"] == "invalid_scope"
    assert sandbox_users(db, email) == []
    assert "code" in silent(client, reader, email, scope="service.read")


def test_default_scope_is_service_read(client: httpx.Client, app: App) -> None:
    query = silent(client, app, address(), scope=None)  # type: ignore[arg-type]
    token = exchange(client, app, query["code"]).json()
    assert token["scope"] == "service.read"
    refused = client.post("/api/v2/calendars/", json={"name": "x"}, headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"


def test_unauthorized_client_when_not_flagged(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    plain = make_app(db, settings, service_id, silent=False)
    email = address()
    query = silent(client, plain, email)
    assert query["error"] == "unauthorized_client" and query["iss"] == ISSUER
    assert sandbox_users(db, email) == []


def test_unauthorized_client_for_a_public_app_even_if_flagged(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    loopback = "http://127.0.0.1/silent-callback"
    public = make_app(db, settings, service_id, silent=False, public=True, redirect_uri=loopback)
    with db.session() as session:  # registration refuses this; the flow must refuse it too
        row = session.get(OAuthApp, public.id)
        assert row is not None
        row.allow_silent = True
    _, challenge = pkce()
    email = address()
    query = silent(client, public, email, code_challenge=challenge, code_challenge_method="S256")
    assert query["error"] == "unauthorized_client"
    assert sandbox_users(db, email) == []


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "not-an-address",
        "two@@example.com",
        "ann@exam ple.com",
        "ann@",
        "@example.com",
        "\u0430nn@example.com",  # Cyrillic a in the local part: refused, never a look-alike
        "ann@example.com\x00",
        "a" * 250 + "@example.com",
        '"ann smith"@example.com',
    ],
    ids=[
        "empty",
        "blank",
        "no-at",
        "two-ats",
        "space-in-domain",
        "no-domain",
        "no-local-part",
        "cyrillic-local-part",
        "nul",
        "too-long",
        "quoted-local-part",
    ],
)
def test_invalid_request_for_a_malformed_address(
    client: httpx.Client, db: Database, app: App, email: str
) -> None:
    query = silent(client, app, email)
    assert query["error"] == "invalid_request" and query["iss"] == ISSUER
    assert "email_address" in query["error_description"]
    assert "code" not in query


def test_no_login_and_no_consent_page_even_for_a_logged_out_browser(
    client: httpx.Client, app: App
) -> None:
    response = client.get(
        "/oauth2/authorize/", params=params(app, address()), headers={"Accept": "text/html"}
    )
    location = response.headers["location"]
    assert response.status_code == 302 and location.startswith(app.redirect_uri)
    assert "/accounts/login/" not in location
    assert response.headers["cache-control"] == "no-store"
