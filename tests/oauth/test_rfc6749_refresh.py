"""RFC 6749 §6 refresh, with rotation and reuse detection (RFC 9700 §4.14.2) and the limits
on live refresh tokens (SPEC §5.3)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from c42.auth.oauth import tokens as token_store
from c42.db import Database
from c42.models import AuditEvent, OAuthToken, User, utcnow
from c42.settings import Settings
from tests.factories import Factory
from tests.oauth.helpers import App, Browser, bearer, exchange, make_app, pkce, refresh


def _tokens(client: httpx.Client, browser: Browser, app: App, scope: str | None = None) -> Any:
    verifier, challenge = pkce()
    code = browser.code(app, scope=scope, challenge=challenge)
    answer = exchange(client, app, code, verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _api(client: httpx.Client, access_token: str) -> int:
    return client.get("/api/v2/calendars/", headers=bearer(access_token)).status_code


def test_refresh_rotates(browser: Browser, web_app: App, client: httpx.Client) -> None:
    first = _tokens(client, browser, web_app)
    answer = refresh(client, web_app, first["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"]
    assert _api(client, second["access_token"]) == 200
    third = refresh(client, web_app, second["refresh_token"])
    assert third.status_code == 200


def test_reuse_of_rotated_token_revokes_the_family(
    browser: Browser,
    web_app: App,
    client: httpx.Client,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    third = refresh(client, web_app, second["refresh_token"]).json()
    assert _api(client, third["access_token"]) == 200
    with caplog.at_level(logging.WARNING, logger="c42.security"):
        reuse = refresh(client, web_app, first["refresh_token"])  # an attacker's stolen copy
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # Everything of the family stops working, at once: the latest pair included.
    assert _api(client, third["access_token"]) == 401
    assert refresh(client, web_app, third["refresh_token"]).json()["error"] == "invalid_grant"
    with db.session(write=False) as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == web_app.client_id, AuditEvent.type == "refresh_token_reuse"
            )
        ).all()
    assert len(events) == 1
    assert events[0].user_id == browser.person.id  # type: ignore[union-attr]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refresh_token_reuse" in logged
    for secret in (first["refresh_token"], third["refresh_token"], third["access_token"]):
        assert secret not in logged
        assert secret not in str(events[0].detail)


def test_other_families_survive_a_reuse(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    a = _tokens(client, browser, web_app)
    b = _tokens(client, browser, web_app)
    a2 = refresh(client, web_app, a["refresh_token"]).json()
    assert refresh(client, web_app, a2["refresh_token"]).status_code == 200
    reuse = refresh(client, web_app, a["refresh_token"])  # reuse: family a revoked
    assert reuse.json()["error"] == "invalid_grant"
    assert _api(client, a2["access_token"]) == 401
    assert _api(client, b["access_token"]) == 200
    assert refresh(client, web_app, b["refresh_token"]).status_code == 200


SCOPE_CASES = {
    "escalate": ("service.read", "service.read service.write", "invalid_scope"),
    "escalate-only-write": ("service.read", "service.write", "invalid_scope"),
    "unknown": ("service.read", "admin", "invalid_scope"),
    "narrow": ("service.read service.write", "service.read", None),
    "same": ("service.read service.write", "service.write service.read", None),
}


@pytest.mark.parametrize(("granted", "asked", "error"), SCOPE_CASES.values(), ids=SCOPE_CASES)
def test_refresh_scope(
    browser: Browser,
    web_app: App,
    client: httpx.Client,
    granted: str,
    asked: str,
    error: str | None,
) -> None:
    first = _tokens(client, browser, web_app, scope=granted)
    answer = refresh(client, web_app, first["refresh_token"], scope=asked)
    if error:
        assert answer.status_code == 400
        assert answer.json()["error"] == error  # RFC 6749 §6: never beyond the original grant
        # A refused refresh does not use the refresh token up.
        assert refresh(client, web_app, first["refresh_token"]).status_code == 200
    else:
        assert answer.status_code == 200, answer.text
        assert set(answer.json()["scope"].split()) == set(asked.split())


def test_refresh_token_bound_to_client(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    other = make_app(db, settings, web_app.service_id)
    first = _tokens(client, browser, web_app)
    assert refresh(client, other, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, web_app, first["refresh_token"]).status_code == 200


def test_public_app_refreshes_with_client_id(
    browser: Browser, native_app: App, client: httpx.Client
) -> None:
    first = _tokens(client, browser, native_app)
    answer = refresh(client, native_app, first["refresh_token"])
    assert answer.status_code == 200, answer.text


def test_expired_refresh_token(
    browser: Browser, web_app: App, client: httpx.Client, db: Database
) -> None:
    first = _tokens(client, browser, web_app)
    with db.session() as session:
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.app_id == web_app.id)
            .values(refresh_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert refresh(client, web_app, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_inactive_user_cannot_refresh(
    fresh_browser: Callable[[], Browser], web_app: App, client: httpx.Client, db: Database
) -> None:
    b = fresh_browser()
    first = _tokens(client, b, web_app)
    with db.session() as session:
        session.execute(update(User).where(User.id == b.person.id).values(is_active=False))  # type: ignore[union-attr]
    assert refresh(client, web_app, first["refresh_token"]).status_code == 400


def test_refresh_tokens_limited_per_app_and_user(
    fresh_browser: Callable[[], Browser],
    web_app: App,
    client: httpx.Client,
    settings: Settings,
) -> None:
    b = fresh_browser()
    limit = settings.refresh_tokens_per_app_user
    issued = [_tokens(client, b, web_app)["refresh_token"] for _ in range(limit + 1)]
    # Past the limit the oldest stops working; the newest ones still work.
    assert refresh(client, web_app, issued[0]).json()["error"] == "invalid_grant"
    assert refresh(client, web_app, issued[1]).status_code == 200
    assert refresh(client, web_app, issued[-1]).status_code == 200


def test_refresh_tokens_limited_per_user_across_apps(
    db: Database, settings: Settings, factory: Factory, service_id: str
) -> None:
    """The per-user limit, on the repository with small limits (the HTTP path is the same
    `enforce_limits` call as the per-app test above)."""
    user = factory.user()
    app_ids = [make_app(db, settings, service_id).id for _ in range(3)]
    with db.unit_of_work() as work:
        for i in range(6):
            token_store.insert(
                work,
                app_id=app_ids[i % 3],
                user_id=user.id,
                access_token=f"a-{user.id}-{i}",
                refresh_token=f"r-{user.id}-{i}",
                scope="service.read",
                family_id=None,
                code_id=None,
                access_lifetime=60,
                refresh_lifetime=3600,
            )
            token_store.enforce_limits(work, app_ids[i % 3], user.id, 10, 4)
    with db.session(write=False) as session:
        live = session.scalar(
            select(func.count())
            .select_from(OAuthToken)
            .where(OAuthToken.user_id == user.id, OAuthToken.refresh_revoked_at.is_(None))
        )
        oldest = session.scalar(
            select(OAuthToken).where(OAuthToken.refresh_digest == _digest(f"r-{user.id}-0"))
        )
    assert live == 4
    assert oldest is not None and oldest.refresh_revoked_at is not None


def _digest(value: str) -> str:
    from c42.auth import secrets

    return secrets.digest(value)
