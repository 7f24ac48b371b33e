"""SPEC §6: one authorization code redeemed by 50 parallel requests yields exactly one token;
one refresh token likewise (a conditional UPDATE per claim, on SQLite and PostgreSQL). Parallel
refreshes of one token within the grace period all answer that one successor, so the client
keeps a working token; with the grace turned off the losers are reuse and revoke the family."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from c42.auth import secrets
from c42.db import Database
from c42.models import OAuthAuthorizationCode, OAuthToken
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, bearer, exchange, refresh

PARALLEL = 50


def _race(
    server: LiveServer, call: Callable[[httpx.Client], httpx.Response], parallel: int = PARALLEL
) -> list[httpx.Response]:
    start = threading.Barrier(parallel)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            start.wait()
            return call(http)

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(parallel)))


def _statuses(answers: list[httpx.Response]) -> list[int]:
    return [answer.status_code for answer in answers]


def _family(db: Database, refresh_token: str) -> tuple[int, int]:
    """(rows of this token's family, refresh tokens of it that still work)."""
    with db.session(write=False) as session:
        family_id = session.scalar(
            select(OAuthToken.family_id).where(
                OAuthToken.refresh_digest == secrets.digest(refresh_token)
            )
        )
        in_family = OAuthToken.family_id == family_id
        rows = session.scalar(select(func.count()).select_from(OAuthToken).where(in_family))
        live = session.scalar(
            select(func.count())
            .select_from(OAuthToken)
            .where(
                in_family,
                OAuthToken.rotated_at.is_(None),
                OAuthToken.refresh_revoked_at.is_(None),
            )
        )
    return int(rows or 0), int(live or 0)


def test_parallel_code_redemptions(
    browser: Browser, web_app: App, server: LiveServer, client: httpx.Client, db: Database
) -> None:
    code = browser.code(web_app)
    statuses = _statuses(_race(server, lambda http: exchange(http, web_app, code)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == PARALLEL - 1, statuses
    with db.session(write=False) as session:
        issued = session.scalar(
            select(func.count())
            .select_from(OAuthToken)
            .join(OAuthAuthorizationCode, OAuthAuthorizationCode.id == OAuthToken.code_id)
            .where(OAuthAuthorizationCode.code_digest == secrets.digest(code))
        )
    assert issued == 1


@pytest.mark.parametrize("parallel", [2, 10, PARALLEL])
def test_parallel_refreshes_within_the_grace(
    browser: Browser,
    web_app: App,
    server: LiveServer,
    client: httpx.Client,
    db: Database,
    parallel: int,
) -> None:
    first = exchange(client, web_app, browser.code(web_app)).json()
    answers = _race(server, lambda http: refresh(http, web_app, first["refresh_token"]), parallel)
    assert _statuses(answers) == [200] * parallel, [a.text for a in answers]
    pairs = {(a.json()["access_token"], a.json()["refresh_token"]) for a in answers}
    assert len(pairs) == 1  # every caller holds the one successor
    [(access_token, refresh_token)] = pairs
    assert _family(db, first["refresh_token"]) == (2, 1)  # the first pair and its successor
    api = client.get("/api/v2/calendars/", headers=bearer(access_token))
    assert api.status_code == 200
    assert refresh(client, web_app, refresh_token).status_code == 200


@pytest.fixture
def no_grace(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"refresh_grace_seconds": 0}), db)
    live.start()
    yield live
    live.stop()


def test_parallel_refreshes_without_grace(
    browser: Browser, web_app: App, no_grace: LiveServer, db: Database
) -> None:
    """`C42_REFRESH_GRACE_SECONDS=0`: one refresh wins, the others are reuse of the rotated
    token and revoke the family — the winner's pair included (RFC 9700 §4.14.2)."""
    parallel = 10
    with httpx.Client(base_url=no_grace.url, timeout=30) as http:
        first = exchange(http, web_app, browser.code(web_app)).json()
    answers = _race(no_grace, lambda http: refresh(http, web_app, first["refresh_token"]), parallel)
    statuses = _statuses(answers)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == parallel - 1, statuses
    assert _family(db, first["refresh_token"]) == (2, 0)
