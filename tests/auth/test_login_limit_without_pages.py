"""The API's password login is rate limited by the limiter created with the app (c42.app,
SPEC §6), not by one the web pages happen to install: an app built without any page still
refuses the attempt after the limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter

from c42 import app as app_module
from c42.db import Database
from c42.ratelimit import RateLimiter
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory

LIMIT = 3


@pytest.fixture(scope="module")
def api_only(settings: Settings, db: Database) -> Iterator[LiveServer]:
    small = settings.model_copy(update={"rate_limit_login": f"{LIMIT}/3600"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "web_routers", lambda: [APIRouter()])  # no page, no /oauth2/
        patch.setattr(app_module, "install_web", lambda app, settings: None)
        live = LiveServer(small, db)
    assert not any(getattr(r, "path", "").startswith("/accounts/") for r in live.app.routes)
    live.start()
    yield live
    live.stop()


def test_the_limiter_exists_without_the_pages(api_only: LiveServer) -> None:
    assert isinstance(api_only.app.state.login_limiter, RateLimiter)


def test_api_login_is_limited_without_the_pages(api_only: LiveServer, factory: Factory) -> None:
    person = factory.user(password="a good password")
    body = {"email": person.email, "password": "wrong"}
    with httpx.Client(base_url=api_only.url) as client:
        for _ in range(LIMIT):
            assert client.post("/api/v2/user-tokens/", json=body).status_code == 401
        response = client.post("/api/v2/user-tokens/", json=body)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
