"""The refresh grace period (`C42_REFRESH_GRACE_SECONDS`): the client presenting a just-rotated
refresh token again, with the same scope and within the grace, gets the pair that rotation
issued, as long as that pair is still live. Anything else is reuse and revokes the family
(RFC 9700 §4.14.2). The pair is derived from the old refresh token under the server key, so
only digests are stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update

from c42.auth import secrets
from c42.db import Database
from c42.models import AuditEvent, OAuthToken, utcnow
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, bearer, exchange, make_app, pkce, refresh

SAME_PAIR = ("token_type", "access_token", "refresh_token", "scope")


def _tokens(client: httpx.Client, browser: Browser, app: App, scope: str | None = None) -> Any:
    verifier, challenge = pkce()
    answer = exchange(client, app, browser.code(app, scope=scope, challenge=challenge), verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _api(client: httpx.Client, access_token: str) -> int:
    headers = bearer(access_token)
    return client.get("/api/v2/calendars/", headers=headers).status_code


def _row(db: Database, refresh_token: str) -> OAuthToken:
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthToken).where(OAuthToken.refresh_digest == secrets.digest(refresh_token))
        )
    assert row is not None
    return row


def _live_in_family(db: Database, refresh_token: str) -> int:
    """Refresh tokens of this token's family that still work."""
    family_id = _row(db, refresh_token).family_id
    with db.session(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(OAuthToken)
            .where(
                OAuthToken.family_id == family_id,
                OAuthToken.rotated_at.is_(None),
                OAuthToken.refresh_revoked_at.is_(None),
                OAuthToken.access_revoked_at.is_(None),
            )
        )
    return int(count or 0)


def _reuse_events(db: Database, app: App) -> int:
    with db.session(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.client_id == app.client_id, AuditEvent.type == "refresh_token_reuse")
        )
    return int(count or 0)


def _assert_reuse(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_retry_within_the_grace_gets_the_same_pair(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    service_id: str,
    kind: str,
) -> None:
    app = make_app(db, settings, service_id, public=kind == "public")
    first = _tokens(client, browser, app)
    rotated = refresh(client, app, first["refresh_token"])
    retried = refresh(client, app, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    assert retried.headers["cache-control"] == "no-store"
    a, b = rotated.json(), retried.json()
    assert {k: b[k] for k in SAME_PAIR} == {k: a[k] for k in SAME_PAIR}
    assert 0 < b["expires_in"] <= a["expires_in"]  # the issued pair's remaining life
    assert _api(client, a["access_token"]) == 200
    assert _live_in_family(db, first["refresh_token"]) == 1
    assert _reuse_events(db, app) == 0
    assert refresh(client, app, a["refresh_token"]).status_code == 200  # it rotates as usual


def test_retry_after_the_grace_revokes_the_family(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    past = utcnow() - timedelta(seconds=settings.refresh_grace_seconds + 1)
    with db.session() as session:
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.refresh_digest == secrets.digest(first["refresh_token"]))
            .values(rotated_at=past)
        )
    _assert_reuse(refresh(client, web_app, first["refresh_token"]))
    assert _api(client, second["access_token"]) == 401
    _assert_reuse(refresh(client, web_app, second["refresh_token"]))
    assert _live_in_family(db, first["refresh_token"]) == 0
    assert _reuse_events(db, web_app) >= 1


def test_retry_after_the_successor_rotated_revokes_the_family(
    browser: Browser, web_app: App, client: httpx.Client, db: Database
) -> None:
    """Only the token just rotated gets the grace, never an older one of the chain."""
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    third = refresh(client, web_app, second["refresh_token"]).json()
    _assert_reuse(refresh(client, web_app, first["refresh_token"]))
    assert _api(client, third["access_token"]) == 401
    assert _live_in_family(db, first["refresh_token"]) == 0
    assert _reuse_events(db, web_app) == 1


def test_retry_after_the_successor_was_revoked(
    browser: Browser, web_app: App, client: httpx.Client, db: Database
) -> None:
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    revoked = client.post(
        "/oauth2/revoke/", data={"token": second["refresh_token"]}, auth=web_app.auth
    )
    assert revoked.status_code == 200
    _assert_reuse(refresh(client, web_app, first["refresh_token"]))
    assert _live_in_family(db, first["refresh_token"]) == 0


SCOPE_CASES = {
    # scope sent by the first refresh, scope sent by the retry -> the retry gets the same pair
    "none-none": (None, None, True),
    "none-same-set": (None, "service.write service.read", True),
    "narrow-narrow": ("service.read", "service.read", True),
    "narrow-none": ("service.read", None, False),
    "none-narrow": (None, "service.read", False),
    "narrow-other": ("service.read", "service.write", False),
}


@pytest.mark.parametrize(
    ("first_scope", "retry_scope", "same"), SCOPE_CASES.values(), ids=SCOPE_CASES
)
def test_retry_must_ask_the_same_scope(
    browser: Browser,
    web_app: App,
    client: httpx.Client,
    db: Database,
    first_scope: str | None,
    retry_scope: str | None,
    same: bool,
) -> None:
    first = _tokens(client, browser, web_app, scope="service.read service.write")
    scoped = {"scope": first_scope} if first_scope else {}
    second = refresh(client, web_app, first["refresh_token"], **scoped).json()
    scoped = {"scope": retry_scope} if retry_scope else {}
    retried = refresh(client, web_app, first["refresh_token"], **scoped)
    if same:
        assert retried.status_code == 200, retried.text
        assert retried.json()["refresh_token"] == second["refresh_token"]
        assert _live_in_family(db, first["refresh_token"]) == 1
    else:
        _assert_reuse(retried)  # another request than the one answered: reuse
        assert _api(client, second["access_token"]) == 401
        assert _live_in_family(db, first["refresh_token"]) == 0


def test_another_client_gets_no_grace_and_revokes_nothing(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    other = make_app(db, settings, web_app.service_id)
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    _assert_reuse(refresh(client, other, first["refresh_token"]))
    assert _api(client, second["access_token"]) == 200
    assert _live_in_family(db, first["refresh_token"]) == 1
    assert _reuse_events(db, web_app) == 0


def test_the_pair_is_derived_under_the_server_key(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    first = _tokens(client, browser, web_app)
    second = refresh(client, web_app, first["refresh_token"]).json()
    old, new = _row(db, first["refresh_token"]), _row(db, second["refresh_token"])
    pair = (second["access_token"], second["refresh_token"])
    key = settings.resolved_secret_key()
    assert secrets.successor_tokens(first["refresh_token"], old.id, key) == pair
    assert secrets.successor_tokens(first["refresh_token"], old.id, key + "x") != pair
    # Only digests are stored: neither token is anywhere in its row.
    assert new.access_digest == secrets.digest(second["access_token"])
    stored = [str(getattr(new, column.key)) for column in OAuthToken.__table__.columns]
    assert not any(value in stored for value in pair)


@pytest.fixture
def no_grace(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"refresh_grace_seconds": 0}), db)
    live.start()
    yield live
    live.stop()


def test_grace_zero_turns_it_off(
    browser: Browser, web_app: App, no_grace: LiveServer, db: Database
) -> None:
    with httpx.Client(base_url=no_grace.url, timeout=30) as http:
        first = _tokens(http, browser, web_app)
        second = refresh(http, web_app, first["refresh_token"]).json()
        _assert_reuse(refresh(http, web_app, first["refresh_token"]))
        assert _api(http, second["access_token"]) == 401
    assert _live_in_family(db, first["refresh_token"]) == 0


def test_setting_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C42_REFRESH_GRACE_SECONDS", raising=False)
    assert Settings().refresh_grace_seconds == 5
    monkeypatch.setenv("C42_REFRESH_GRACE_SECONDS", "0")
    assert Settings().refresh_grace_seconds == 0
    for bad in ("-1", "61", "soon"):
        monkeypatch.setenv("C42_REFRESH_GRACE_SECONDS", bad)
        with pytest.raises(ValidationError):
            Settings()
