"""The demo's `silent` app (printed by `c42 demo --json`) is flagged for silent OAuth and its
printed credentials run the flow; the demo's web and native apps are not flagged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from c42.auth.oauth import apps
from c42.cli.main import main
from c42.db import Database
from c42.settings import Settings, get_settings
from tests.silent.helpers import App, address, bearer, exchange, pkce, sandbox_users, silent


@pytest.fixture
def demo(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    capsys.readouterr()
    assert main(["demo", "--json"]) == 0
    output: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    yield output
    get_settings.cache_clear()


def _app(demo: dict[str, Any], name: str) -> App:
    entry = demo["apps"][name]
    return App(
        "",
        entry["client_id"],
        entry.get("client_secret"),
        demo["service"]["id"],
        entry["redirect_uris"][0],
    )


def test_the_demo_silent_app_is_flagged_and_works(
    client: httpx.Client, db: Database, demo: dict[str, Any]
) -> None:
    with db.unit_of_work() as work:
        row = apps.find(work, demo["apps"]["silent"]["client_id"])
        assert row is not None
        assert row.allow_silent and not row.is_public and row.client_secret_digest
        assert row.service_id == demo["service"]["id"]
    app = _app(demo, "silent")
    email = address("demo")
    query = silent(client, app, email)
    token = exchange(client, app, query["code"])
    assert token.status_code == 200, token.text
    calendars = client.get("/api/v2/calendars/", headers=bearer(token.json()))
    assert calendars.status_code == 200 and calendars.json()["data"] == []  # a fresh sandbox
    [user] = sandbox_users(db, email)
    assert user.sandbox_service_id == demo["service"]["id"]


def test_the_demo_web_and_native_apps_may_not_use_silent_oauth(
    client: httpx.Client, demo: dict[str, Any]
) -> None:
    assert silent(client, _app(demo, "web"), address())["error"] == "unauthorized_client"
    _, challenge = pkce()
    native = silent(
        client,
        _app(demo, "native"),
        address(),
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert native["error"] == "unauthorized_client"


def test_the_demo_user_is_an_activated_account(client: httpx.Client, demo: dict[str, Any]) -> None:
    query = silent(client, _app(demo, "silent"), demo["user"]["email"])
    assert query["error"] == "interaction_required"
