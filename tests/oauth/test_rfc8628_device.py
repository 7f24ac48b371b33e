"""RFC 8628 device authorization grant (SPEC §11): a CLI-style client in the test asks for a
device code and polls the token endpoint while a person allows it on /device/; the polling
answers, single redemption under concurrent polls, user code rules and their rate limit."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from c42.auth import secrets
from c42.auth.oauth import device
from c42.cli.main import main
from c42.db import Database
from c42.models import AuditEvent, OAuthDeviceCode, utcnow
from c42.ops import purge
from c42.ratelimit import RateLimiter
from c42.settings import Settings, get_settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, bearer, csrf_of, make_app

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_PATH = "/oauth2/device_authorization/"
_USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def tv_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, public=True, device=True)


@pytest.fixture
def server_tv_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, device=True)


def start(client: httpx.Client, app: App, **extra: str) -> httpx.Response:
    data = {**extra}
    if app.client_secret is None:
        data["client_id"] = app.client_id
        return client.post(DEVICE_PATH, data=data)
    return client.post(DEVICE_PATH, data=data, auth=app.auth)


def started(client: httpx.Client, app: App, **extra: str) -> dict[str, Any]:
    answer = start(client, app, **extra)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def poll(client: httpx.Client, app: App, device_code: str) -> httpx.Response:
    data = {"grant_type": GRANT, "device_code": device_code}
    if app.client_secret is None:
        data["client_id"] = app.client_id
        return client.post("/oauth2/token/", data=data)
    return client.post("/oauth2/token/", data=data, auth=app.auth)


def error_of(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    return str(answer.json()["error"])


def enter_code(browser: Browser, typed: str) -> httpx.Response:
    page = browser.http.get("/device/")
    assert page.status_code == 200, page.text
    return browser.http.post(
        "/device/", data={"csrf_token": csrf_of(page.text), "user_code": typed}
    )


def decide(browser: Browser, typed: str, decision: str) -> httpx.Response:
    consent = enter_code(browser, typed)
    assert consent.status_code == 200, consent.text
    assert 'id="consent-form"' in consent.text
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(consent.text)}
    form["decision"] = decision
    return browser.http.post("/device/", data=form)


def test_authorization_response(client: httpx.Client, tv_app: App, settings: Settings) -> None:
    body = started(client, tv_app, scope="service.read")
    assert _USER_CODE.match(body["user_code"]), body["user_code"]
    issuer = settings.issuer.rstrip("/")
    assert body["verification_uri"] == f"{issuer}/device/"
    assert body["verification_uri_complete"] == f"{issuer}/device/?user_code={body['user_code']}"
    assert body["expires_in"] == device.LIFETIME
    assert body["interval"] == 5
    assert len(body["device_code"]) >= 32


def test_cli_client_polls_until_allowed(
    client: httpx.Client, tv_app: App, browser: Browser
) -> None:
    """A command-line client: show the code, poll at the interval the server gives."""
    body = started(client, tv_app, scope="service.read")
    person = threading.Timer(1.0, lambda: decide(browser, body["user_code"], "allow"))
    person.start()
    interval, answers = body["interval"], []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = poll(client, tv_app, body["device_code"])
        answers.append(answer.json().get("error", "token"))
        if answer.status_code == 200:
            break
        assert answer.json()["error"] in ("authorization_pending", "slow_down")
        if answer.json()["error"] == "slow_down":
            interval += 5
        time.sleep(interval)
    person.join()
    assert answers == ["authorization_pending", "token"]
    token = answer.json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "service.read"
    assert "refresh_token" in token
    listed = client.get("/api/v2/calendars/", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    # Redeemed once.
    assert error_of(poll(client, tv_app, body["device_code"])) == "invalid_grant"


def test_slow_down_grows_the_interval(client: httpx.Client, tv_app: App, db: Database) -> None:
    body = started(client, tv_app)
    pending = poll(client, tv_app, body["device_code"])
    assert error_of(pending) == "authorization_pending"
    assert "poll again after the interval" in pending.json()["error_description"]
    slow = poll(client, tv_app, body["device_code"])
    assert error_of(slow) == "slow_down"
    assert "add 5 seconds" in slow.json()["error_description"]
    with db.session(write=False) as session:
        row = session.query(OAuthDeviceCode).filter_by(app_id=tv_app.id).one()
        interval = row.interval
    assert interval == 10  # RFC 8628 §3.5: +5 s, kept for the following polls
    assert error_of(poll(client, tv_app, body["device_code"])) == "slow_down"


def test_denied(client: httpx.Client, tv_app: App, browser: Browser) -> None:
    body = started(client, tv_app)
    done = decide(browser, body["user_code"], "deny")
    assert done.status_code == 200
    assert "Access denied" in done.text
    denied = poll(client, tv_app, body["device_code"])
    assert error_of(denied) == "access_denied"
    assert denied.json()["error_description"].startswith("The user did not allow")


def test_expired(client: httpx.Client, tv_app: App, browser: Browser, db: Database) -> None:
    body = started(client, tv_app)
    with db.session() as session:
        session.execute(
            update(OAuthDeviceCode)
            .where(OAuthDeviceCode.app_id == tv_app.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = poll(client, tv_app, body["device_code"])
    assert error_of(expired) == "expired_token"
    assert "ask for a new one" in expired.json()["error_description"]
    # Too late on the page as well.
    assert enter_code(browser, body["user_code"]).status_code == 400


def test_fifty_concurrent_polls_get_one_token(
    client: httpx.Client, server_tv_app: App, browser: Browser, server: LiveServer
) -> None:
    body = started(client, server_tv_app)
    assert decide(browser, body["user_code"], "allow").status_code == 200

    def one(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as own:
            return poll(own, server_tv_app, body["device_code"]).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == 49, statuses


@pytest.mark.parametrize("variant", [str.lower, lambda code: code.replace("-", ""), str])
def test_user_code_typed_any_case_with_or_without_hyphen(
    client: httpx.Client, tv_app: App, browser: Browser, variant: Any
) -> None:
    body = started(client, tv_app)
    consent = enter_code(browser, variant(body["user_code"]))
    assert consent.status_code == 200
    assert body["user_code"] in consent.text


def test_user_code_stored_only_as_digest(client: httpx.Client, tv_app: App, db: Database) -> None:
    body = started(client, tv_app)
    with db.session(write=False) as session:
        rows = session.query(OAuthDeviceCode).filter_by(app_id=tv_app.id).all()
    stored = {value for row in rows for value in (row.device_digest, row.user_code_digest)}
    letters = body["user_code"].replace("-", "")
    assert not any(letters in value or body["device_code"] in value for value in stored)


def test_app_not_flagged_for_device(
    client: httpx.Client, native_app: App, web_app: App, tv_app: App
) -> None:
    assert error_of(start(client, native_app)) == "unauthorized_client"
    assert start(client, web_app).status_code in (400, 401)
    # Another app's device code is not this app's.
    body = started(client, tv_app)
    assert error_of(poll(client, native_app, body["device_code"])) in (
        "unauthorized_client",
        "invalid_grant",
    )


def test_unknown_device_code_and_scope(client: httpx.Client, tv_app: App) -> None:
    assert error_of(poll(client, tv_app, "no-such-code")) in ("invalid_request", "invalid_grant")
    assert error_of(start(client, tv_app, scope="admin.everything")) == "invalid_scope"


def test_page_needs_login_and_csrf(anonymous: Browser, browser: Browser) -> None:
    first = anonymous.http.get("/device/?user_code=bcdf-ghjk")
    assert first.status_code == 302
    assert first.headers["location"].startswith("/accounts/login/?next=")
    assert "BCDF-GHJK" in httpx.URL(first.headers["location"]).params["next"]
    forged = browser.http.post("/device/", data={"user_code": "BCDF-GHJK", "decision": "allow"})
    assert forged.status_code == 403


@pytest.fixture
def small_limit(server: LiveServer) -> Iterator[int]:
    state = server.app.state
    before = getattr(state, "device_code_limiter", None)
    state.device_code_limiter = RateLimiter("device-code", 3, 3600)
    yield 3
    if before is None:
        del state.device_code_limiter
    else:
        state.device_code_limiter = before


def test_wrong_user_codes_are_rate_limited(browser: Browser, small_limit: int) -> None:
    for _ in range(small_limit):
        wrong = enter_code(browser, "BBBB-BBBB")
        assert wrong.status_code == 400
        assert "not valid" in wrong.text
    refused = enter_code(browser, "BBBB-BBBB")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_brute_forced_user_code_is_stopped(
    client: httpx.Client,
    tv_app: App,
    fresh_browser: Callable[[], Browser],
    small_limit: int,
    db: Database,
) -> None:
    """RFC 8628 §5.1: once over the limit, guessing stops — even a right guess is refused
    unread, so the pending code stays pending; the lock-out is in the audit log."""
    guesser = fresh_browser()
    body = started(client, tv_app)
    for _ in range(small_limit):
        assert enter_code(guesser, "BBBB-BBBB").status_code == 400
    right = enter_code(guesser, body["user_code"])
    assert right.status_code == 429
    assert "consent-form" not in right.text
    assert error_of(poll(client, tv_app, body["device_code"])) == "authorization_pending"
    with db.session(write=False) as session:
        lockouts = session.scalars(
            select(AuditEvent).where(AuditEvent.type == "rate_limit_lockout")
        ).all()
    assert any((row.detail or {}).get("limiter") == "device-code" for row in lockouts)


def test_used_user_code_cannot_be_decided_again(
    client: httpx.Client, tv_app: App, browser: Browser
) -> None:
    """A user code is answered once: after Allow (or Deny) the page knows it no more, and a
    replayed decision form changes nothing."""
    body = started(client, tv_app)
    consent = enter_code(browser, body["user_code"])
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(consent.text)}
    assert browser.http.post("/device/", data={**form, "decision": "deny"}).status_code == 200
    replay = browser.http.post("/device/", data={**form, "decision": "allow"})
    assert replay.status_code == 400 and "not valid" in replay.text
    assert enter_code(browser, body["user_code"]).status_code == 400
    assert error_of(poll(client, tv_app, body["device_code"])) == "access_denied"


def test_allowed_but_expired_device_code(
    client: httpx.Client, tv_app: App, browser: Browser, db: Database
) -> None:
    """Allowed, then not polled before expiry: `expired_token`, never tokens."""
    body = started(client, tv_app)
    assert decide(browser, body["user_code"], "allow").status_code == 200
    with db.session() as session:
        session.execute(
            update(OAuthDeviceCode)
            .where(OAuthDeviceCode.device_digest == secrets.digest(body["device_code"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert error_of(poll(client, tv_app, body["device_code"])) == "expired_token"
    with db.session(write=False) as session:
        row = session.scalars(
            select(OAuthDeviceCode).where(
                OAuthDeviceCode.device_digest == secrets.digest(body["device_code"])
            )
        ).one()
    assert row.redeemed_at is None


def test_metadata(client: httpx.Client, settings: Settings) -> None:
    body = client.get("/.well-known/oauth-authorization-server").json()
    issuer = settings.issuer.rstrip("/")
    assert body["device_authorization_endpoint"] == f"{issuer}/oauth2/device_authorization/"
    assert GRANT in body["grant_types_supported"]


def test_cli_device_flag(
    settings: Settings,
    service_id: str,
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`c42 app create --device` opens the grant to an app; `update --no-device` closes it."""
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def cli(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        shown: dict[str, Any] = json.loads(capsys.readouterr().out)
        return shown

    try:
        created = cli(
            "app", "create", "--service", service_id, "--name", "CLI TV", "--public",
            "--redirect-uri", "http://127.0.0.1/cb", "--device",
        )  # fmt: skip
        app = App("", created["client_id"], None, service_id, ["http://127.0.0.1/cb"])
        assert cli("app", "show", app.client_id)["device"] is True
        assert start(client, app).status_code == 200
        assert cli("app", "update", app.client_id, "--no-device")["device"] is False
        assert error_of(start(client, app)) == "unauthorized_client"
    finally:
        get_settings.cache_clear()


def test_purge_deletes_long_expired_device_codes(
    client: httpx.Client, tv_app: App, db: Database
) -> None:
    old, fresh = started(client, tv_app), started(client, tv_app)
    with db.session() as session:
        session.execute(
            update(OAuthDeviceCode)
            .where(OAuthDeviceCode.device_digest == secrets.digest(old["device_code"]))
            .values(expires_at=utcnow() - timedelta(days=31))
        )
    report = purge.purge(db, 30, dry_run=True)
    assert report.counts["device_codes"] >= 1
    purge.purge(db, 30)
    with db.session(write=False) as session:
        left = {row.device_digest for row in session.query(OAuthDeviceCode).all()}
    assert secrets.digest(old["device_code"]) not in left
    assert secrets.digest(fresh["device_code"]) in left
