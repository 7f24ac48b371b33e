"""RFC 6750 Bearer access to the resource API: restricted to the app's service, to the token's
scope and to what the user reaches; revoked, expired and unknown tokens are 401 invalid_token."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from c42.db import Database
from c42.models import OAuthToken, User, utcnow
from c42.settings import Settings
from tests.factories import Person, calendar, event
from tests.oauth.helpers import App, Browser, access_token, bearer, make_app


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}


@pytest.fixture
def writer(browser: Browser, web_app: App, client: httpx.Client) -> str:
    return access_token(client, browser, web_app, "service.read service.write")


def test_bearer_sees_only_its_services_data(
    client: httpx.Client, writer: str, person: Person, web_app: App
) -> None:
    private_cal = calendar(client, person, "Private")  # made with a User Token: no service
    private_event = event(client, person, [private_cal["id"]])
    made = client.post("/api/v2/calendars/", json={"name": "Via app"}, headers=bearer(writer))
    assert made.status_code == 201, made.text
    service_cal = made.json()["data"][0]
    assert service_cal["service_id"] == web_app.service_id
    listed = _ids(client.get("/api/v2/calendars/", headers=bearer(writer)))
    assert service_cal["id"] in listed
    assert private_cal["id"] not in listed
    for path in (
        f"/api/v2/calendars/{private_cal['id']}/",
        f"/api/v2/events/{private_event['id']}/",
    ):
        hidden = client.get(path, headers=bearer(writer))
        assert hidden.status_code == 404, path  # never reveal existence
        assert hidden.json()["error"]["code"] == "not_found"
    # The user's own User Token still sees both.
    assert {private_cal["id"], service_cal["id"]} <= _ids(
        client.get("/api/v2/calendars/", headers=person.headers, params={"limit": 100})
    )


def test_token_of_one_service_on_another_services_data(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    factory: Any,
    person: Person,
    writer: str,
) -> None:
    other_service = factory.service("Other service")
    factory.subscribe(other_service, person)
    other_app = make_app(db, settings, other_service)
    other_token = access_token(client, browser, other_app, "service.read service.write")
    theirs = client.post("/api/v2/calendars/", json={"name": "B"}, headers=bearer(other_token))
    assert theirs.status_code == 201
    cal_id = theirs.json()["data"][0]["id"]
    assert client.get(f"/api/v2/calendars/{cal_id}/", headers=bearer(writer)).status_code == 404
    patch = client.patch(f"/api/v2/calendars/{cal_id}/", json={"name": "x"}, headers=bearer(writer))
    assert patch.status_code == 404
    assert cal_id not in _ids(client.get("/api/v2/calendars/", headers=bearer(writer)))


def test_read_scope_cannot_write(
    browser: Browser, web_app: App, client: httpx.Client, writer: str
) -> None:
    reader = access_token(client, browser, web_app, "service.read")
    made = client.post("/api/v2/calendars/", json={"name": "w"}, headers=bearer(writer))
    cal_id = made.json()["data"][0]["id"]
    assert client.get(f"/api/v2/calendars/{cal_id}/", headers=bearer(reader)).status_code == 200
    for method, path, body in (
        ("POST", "/api/v2/calendars/", {"name": "r"}),
        ("PATCH", f"/api/v2/calendars/{cal_id}/", {"name": "r"}),
        ("DELETE", f"/api/v2/calendars/{cal_id}/", None),
    ):
        answer = client.request(method, path, json=body, headers=bearer(reader))
        assert answer.status_code == 403, (method, answer.text)
        assert answer.json()["error"]["code"] == "insufficient_scope"
        challenge = answer.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="service.write"' in challenge


def _assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge  # RFC 6750 §3


def test_revoked_token(client: httpx.Client, writer: str, web_app: App) -> None:
    assert client.get("/api/v2/calendars/", headers=bearer(writer)).status_code == 200
    client.post("/oauth2/revoke/", data={"token": writer}, auth=web_app.auth)
    _assert_invalid_token(client.get("/api/v2/calendars/", headers=bearer(writer)))


def test_expired_token(browser: Browser, web_app: App, client: httpx.Client, db: Database) -> None:
    token = access_token(client, browser, web_app, "service.read")
    from c42.auth import secrets

    with db.session() as session:
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.access_digest == secrets.digest(token))
            .values(access_expires_at=utcnow() - timedelta(seconds=1))
        )
    _assert_invalid_token(client.get("/api/v2/calendars/", headers=bearer(token)))


@pytest.mark.parametrize(
    "token",
    ["unknown-token", "a" * 40, "x" * 2000, "e30.e30.sig"],
    ids=["unknown", "forty-hex", "long", "jwt-lookalike"],
)
def test_unknown_tokens(client: httpx.Client, token: str) -> None:
    _assert_invalid_token(client.get("/api/v2/calendars/", headers=bearer(token)))


def test_deactivated_user(
    fresh_browser: Any, web_app: App, client: httpx.Client, db: Database
) -> None:
    b = fresh_browser()
    token = access_token(client, b, web_app, "service.read")
    with db.session() as session:
        session.execute(update(User).where(User.id == b.person.id).values(is_active=False))
    answer = client.get("/api/v2/calendars/", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "inactive_user"


def test_access_token_in_query_for_get(
    client: httpx.Client, writer: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="c42.access"):
        answer = client.get("/api/v2/calendars/", params={"access_token": writer})
        # The server thread writes its access-log line after the response has gone out (and
        # an earlier request's line, e.g. the writer fixture's token request, may come first).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            logged = "\n".join(record.getMessage() for record in caplog.records)
            if "/api/v2/calendars/" in logged:
                break
            time.sleep(0.01)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"  # SPEC §5.3
    assert "access_token=[redacted]" in logged
    assert writer not in logged


def test_access_token_in_query_not_for_writes(client: httpx.Client, writer: str) -> None:
    answer = client.post("/api/v2/calendars/", params={"access_token": writer}, json={"name": "q"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_scheme_is_case_insensitive(client: httpx.Client, writer: str) -> None:
    answer = client.get("/api/v2/calendars/", headers={"Authorization": f"bEaReR   {writer}"})
    assert answer.status_code == 200


def test_bearer_cannot_manage_user_tokens(client: httpx.Client, writer: str) -> None:
    answer = client.get("/api/v2/user-tokens/", headers=bearer(writer))
    assert answer.status_code == 403
