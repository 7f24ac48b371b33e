"""Who may trigger punishment (`grants.may_punish`): a replayed code revokes what it issued
(RFC 6749 §4.1.2, §10.5) and a reused refresh token revokes its family (RFC 9700 §4.14.2) only
when the request proves it comes from the client they were issued to and is otherwise valid.
Another client, an unauthenticated request or a wrong verifier is refused and revokes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from c42.auth import secrets
from c42.db import Database
from c42.models import AuditEvent, OAuthToken
from c42.settings import Settings
from tests.oauth.helpers import (
    App,
    Browser,
    bearer,
    exchange,
    make_app,
    pkce,
    refresh,
    token_request,
)

TOKEN = "/oauth2/token/"
Replay = Callable[[httpx.Client, App, App, dict[str, str]], httpx.Response]


def _api(client: httpx.Client, access_token: str) -> int:
    headers = bearer(access_token)
    return client.get("/api/v2/calendars/", headers=headers).status_code


def _events(db: Database, app: App, kind: str) -> int:
    with db.session(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.client_id == app.client_id, AuditEvent.type == kind)
        )
    return int(count or 0)


def _revoked(db: Database, refresh_token: str) -> bool:
    """Both tokens of the pair holding this refresh token are revoked (the database's word)."""
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthToken).where(OAuthToken.refresh_digest == secrets.digest(refresh_token))
        )
    assert row is not None
    revoked = (row.access_revoked_at is not None, row.refresh_revoked_at is not None)
    assert revoked in ((True, True), (False, False)), revoked
    return revoked == (True, True)


def _post(client: httpx.Client, form: dict[str, str], **options: Any) -> httpx.Response:
    return client.post(TOKEN, data=form, **options)


# How the second presentation is sent: (client, the app it was issued to, another app of the
# same kind, the form a valid request of the rightful app would send) -> response.
REPLAYS: dict[str, Replay] = {
    "same-client": lambda c, app, other, form: token_request(c, app, form),
    "other-client": lambda c, app, other, form: token_request(c, other, form),
    "no-secret": lambda c, app, other, form: _post(c, {**form, "client_id": app.client_id}),
    "wrong-secret": lambda c, app, other, form: _post(
        c, form, auth=(app.client_id, f"{app.client_secret}x")
    ),
    "wrong-verifier": lambda c, app, other, form: token_request(
        c, app, {**form, "code_verifier": pkce()[0]}
    ),
    "no-verifier": lambda c, app, other, form: token_request(
        c, app, {k: v for k, v in form.items() if k != "code_verifier"}
    ),
    "wrong-redirect-uri": lambda c, app, other, form: token_request(
        c, app, {**form, "redirect_uri": app.redirect_uri + "/other"}
    ),
    "escalated-scope": lambda c, app, other, form: token_request(
        c, app, {**form, "scope": "service.read service.write"}
    ),
    "wrong-service": lambda c, app, other, form: token_request(
        c, app, {**form, "service": "0" * 32}
    ),
}

CODE_CASES = {
    # (app kind, replay) -> (status, error, punished)
    "confidential-same-client": ("web", "same-client", 400, "invalid_grant", True),
    "confidential-other-client": ("web", "other-client", 400, "invalid_grant", False),
    "confidential-no-secret": ("web", "no-secret", 401, "invalid_client", False),
    "confidential-wrong-secret": ("web", "wrong-secret", 401, "invalid_client", False),
    "confidential-wrong-redirect-uri": ("web", "wrong-redirect-uri", 400, "invalid_grant", False),
    "confidential-pkce-wrong-verifier": ("web+pkce", "wrong-verifier", 400, "invalid_grant", False),
    "confidential-pkce-same-client": ("web+pkce", "same-client", 400, "invalid_grant", True),
    "public-right-verifier": ("native", "same-client", 400, "invalid_grant", True),
    "public-wrong-verifier": ("native", "wrong-verifier", 400, "invalid_grant", False),
    "public-no-verifier": ("native", "no-verifier", 400, "invalid_request", False),
    "public-other-client": ("native", "other-client", 400, "invalid_grant", False),
    "public-wrong-redirect-uri": ("native", "wrong-redirect-uri", 400, "invalid_grant", False),
}


def _apps(db: Database, settings: Settings, service_id: str, kind: str) -> tuple[App, App]:
    public = kind == "native"
    return (
        make_app(db, settings, service_id, public=public),
        make_app(db, settings, service_id, public=public),
    )


@pytest.mark.parametrize(
    ("kind", "replay", "status", "error", "punished"), CODE_CASES.values(), ids=CODE_CASES
)
def test_code_replay(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    service_id: str,
    kind: str,
    replay: str,
    status: int,
    error: str,
    punished: bool,
) -> None:
    app, other = _apps(db, settings, service_id, kind)
    verifier, challenge = pkce()
    with_pkce = kind != "web"
    code = browser.code(app, challenge=challenge if with_pkce else None)
    issued = exchange(client, app, code, verifier if with_pkce else None)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()

    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    if with_pkce:
        form["code_verifier"] = verifier
    answer = REPLAYS[replay](client, app, other, form)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert _revoked(db, tokens["refresh_token"]) is punished
    assert _api(client, tokens["access_token"]) == (401 if punished else 200)
    assert _events(db, app, "authorization_code_reuse") == int(punished)


REFRESH_CASES = {
    # (app kind, replay) -> (status, error, punished)
    "confidential-same-client": ("web", "same-client", 400, "invalid_grant", True),
    "confidential-other-client": ("web", "other-client", 400, "invalid_grant", False),
    "confidential-no-secret": ("web", "no-secret", 401, "invalid_client", False),
    "confidential-wrong-secret": ("web", "wrong-secret", 401, "invalid_client", False),
    "confidential-escalated-scope": ("web", "escalated-scope", 400, "invalid_scope", False),
    "confidential-wrong-service": ("web", "wrong-service", 400, "invalid_request", False),
    # RFC 9700 §4.14.2: for a public client the rotated refresh token itself is the proof.
    "public-same-client": ("native", "same-client", 400, "invalid_grant", True),
    "public-other-client": ("native", "other-client", 400, "invalid_grant", False),
}


@pytest.mark.parametrize(
    ("kind", "replay", "status", "error", "punished"), REFRESH_CASES.values(), ids=REFRESH_CASES
)
def test_refresh_token_reuse(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    service_id: str,
    kind: str,
    replay: str,
    status: int,
    error: str,
    punished: bool,
) -> None:
    app, other = _apps(db, settings, service_id, kind)
    verifier, challenge = pkce()
    first = exchange(client, app, browser.code(app, challenge=challenge), verifier).json()
    second = refresh(client, app, first["refresh_token"]).json()
    # Rotated twice: the first token's successor is no longer live, so no grace applies.
    third = refresh(client, app, second["refresh_token"]).json()
    assert _api(client, third["access_token"]) == 200

    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    answer = REPLAYS[replay](client, app, other, form)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert _revoked(db, third["refresh_token"]) is punished
    assert _api(client, third["access_token"]) == (401 if punished else 200)
    assert _events(db, app, "refresh_token_reuse") == int(punished)
    if not punished:
        assert refresh(client, app, third["refresh_token"]).status_code == 200
