"""SPEC §8: every credential kind shows when it was last used, to the minute; it is written
only when the stored minute is older than the current one (never on every request, never
backwards), on a credential-cache miss."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from c42.auth import last_used
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.subject import Grant
from c42.db import Database
from c42.models import ActionToken, OAuthToken, UserToken, utcnow
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import PASSWORD, exchange, make_app, new_browser, pkce

EVENTS = "/api/v2/events/"


def _stored(db: Database, model: Any, credential_id: str) -> Any:
    with db.session(write=False) as s:
        return s.get(model, credential_id).last_used


def _set(db: Database, model: Any, credential_id: str, value: Any) -> None:
    with db.session() as s:
        s.execute(update(model).where(model.id == credential_id).values(last_used=value))


def _use(server: LiveServer, client: httpx.Client, headers: dict[str, str]) -> None:
    server.app.state.authenticator.cache.clear()  # a cache miss: the look-up reads the row
    assert client.get(EVENTS, headers=headers).status_code == 200


def test_minute_and_due() -> None:
    now = utcnow().replace(second=42, microsecond=7)
    assert last_used.minute(now) == now.replace(second=0, microsecond=0)
    assert last_used.due(None, now)
    assert last_used.due(last_used.minute(now) - timedelta(minutes=1), now)
    assert not last_used.due(last_used.minute(now), now)


@pytest.mark.parametrize("kind", ["user_token", "action_token", "oauth"])
def test_every_kind_records_the_minute_once(
    kind: str,
    server: LiveServer,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    factory: Factory,
) -> None:
    person = factory.user(password=PASSWORD)
    if kind == "user_token":
        model: Any = UserToken
        with db.session(write=False) as s:
            credential_id = s.query(UserToken.id).filter(UserToken.user_id == person.id).scalar()
        headers = person.headers
    elif kind == "action_token":
        model = ActionToken
        with db.session() as s:
            created = action_tokens.create(
                s, user_id=person.id, creator_id=person.id, grants=[Grant("GET", EVENTS)]
            )
            credential_id, secret = created.row.id, created.token
        headers = {"Authorization": f"ActionToken {secret}"}
    else:
        model = OAuthToken
        app = make_app(db, settings, factory.service("Last used"))
        browser = new_browser(server.url)
        browser.login(person)
        verifier, challenge = pkce()
        pair = exchange(client, app, browser.code(app, challenge=challenge), verifier).json()
        browser.http.close()
        with db.session(write=False) as s:
            credential_id = s.query(OAuthToken.id).filter(OAuthToken.user_id == person.id).scalar()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert _stored(db, model, credential_id) is None

    before = last_used.minute(utcnow())
    _use(server, client, headers)
    first = _stored(db, model, credential_id)
    assert first is not None and first.second == 0 and first.microsecond == 0
    assert before <= first <= last_used.minute(utcnow())

    stale = first - timedelta(minutes=5)
    _set(db, model, credential_id, stale)
    _use(server, client, headers)
    assert _stored(db, model, credential_id) >= before  # an older minute is brought forward

    ahead = last_used.minute(utcnow()) + timedelta(minutes=10)
    _set(db, model, credential_id, ahead)
    _use(server, client, headers)
    assert _stored(db, model, credential_id) == ahead  # never moved backwards
