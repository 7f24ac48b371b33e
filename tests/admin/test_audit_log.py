"""The audit log (SPEC §8): one record per event, with the right fields, in the transaction of
the change; and no record, nor log line, holds a secret (every token, code, client secret and
password used below is searched for in every record and every log line)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from c42 import audit
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.silent import provision
from c42.auth.subject import Grant
from c42.db import Database
from c42.models import AuditEvent, User
from c42.ops.json_logs import JsonFormatter
from c42.ratelimit import RateLimiter
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.oauth.helpers import (
    bearer,
    exchange,
    make_app,
    new_browser,
    pkce,
    refresh,
)
from tests.web.helpers import (
    PASSWORD,
    browser,
    csrf_from,
    link_in,
    log_in,
    path_of,
    submit,
    wait_for_mail,
)

NEW_PASSWORD = "another long passphrase"
AGENT = "audit-test-agent/1.0"


def records(db: Database, **where: Any) -> list[AuditEvent]:
    with db.session(write=False) as session:
        query = select(AuditEvent).order_by(AuditEvent.time, AuditEvent.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(session.scalars(query))


def types_of(db: Database, user_id: str) -> list[str]:
    return [r.type for r in records(db, user_id=user_id)]


def one(db: Database, type: str, **where: Any) -> AuditEvent:
    found = records(db, type=type, **where)
    assert len(found) == 1, (type, where, [(r.type, r.detail) for r in found])
    return found[0]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def assert_no_secret(db: Database, caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    """No secret in any audit record (every column) nor in any log line."""
    with db.session(write=False) as session:
        rows = [dict(row._mapping) for row in session.execute(select(AuditEvent.__table__))]
    dumped = json.dumps(rows, default=str)
    logged = "\n".join(
        record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str)
        for record in caplog.records
        if record.name.startswith(("c42", "uvicorn"))  # the server's lines, not the test client's
    )
    for secret in secrets:
        assert secret and len(secret) >= 8
        assert secret not in dumped
        assert secret not in logged


def test_account_events(
    server: LiveServer, db: Database, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    email = unique_email("audit")
    outbox = Path(settings.outbox_dir)
    with browser(server.url) as web:
        web.headers["User-Agent"] = AGENT
        page = "/accounts/register/"
        data = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
        assert submit(web, page, data).status_code == 200
        with db.session(write=False) as s:
            user = s.scalar(select(User).where(User.email == email))
            assert user is not None
            user_id = user.id
        registered = one(db, "registered", user_id=user_id)
        assert registered.actor_id == user_id and registered.ip == "127.0.0.1"
        assert registered.user_agent == AGENT

        link = link_in(wait_for_mail(outbox, email, "Confirm"))
        assert web.get(path_of(link)).status_code == 303
        one(db, "email_verified", user_id=user_id)
        assert submit(web, "/accounts/logout/", {}, page="/accounts/logout/").status_code == 303

        assert log_in(web, email, "wrong password!").status_code == 400
        failed = one(db, "login_failed", user_id=user_id)
        assert failed.detail == {"reason": "invalid"} and failed.ip == "127.0.0.1"
        assert log_in(web, email, PASSWORD).status_code == 303
        logins = records(db, type="login", user_id=user_id)
        assert len(logins) == 2 and all(r.credential_id for r in logins)  # the browser session
        assert submit(web, "/accounts/logout/", {}, page="/accounts/logout/").status_code == 303
        assert len(records(db, type="logout", user_id=user_id)) == 2

        assert submit(web, "/accounts/password-reset/", {"email": email}).status_code in (200, 303)
        one(db, "password_reset_requested", user_id=user_id)
        reset = path_of(link_in(wait_for_mail(outbox, email, "Reset")))
        assert submit(web, reset, {"password": NEW_PASSWORD}).status_code == 303
        done = one(db, "password_reset", user_id=user_id)
        assert done.detail == {"revoked_oauth_tokens": 0}

        # The user's own page lists them (SPEC §8), newest first.
        assert log_in(web, email, NEW_PASSWORD).status_code == 303
        own = web.get("/accounts/security/")
        assert own.status_code == 200
        for text in ("Failed login attempt", "Password changed", "E-mail address confirmed"):
            assert text in own.text
    with browser(server.url) as anonymous:
        answer = anonymous.get("/accounts/security/")
        assert answer.status_code == 302 and "/accounts/login/" in answer.headers["location"]
    assert_no_secret(db, logs, [PASSWORD, NEW_PASSWORD, path_of(link).rsplit("/", 1)[-1]])


def test_credential_events(
    client: httpx.Client, db: Database, factory: Factory, logs: pytest.LogCaptureFixture
) -> None:
    person = factory.user(password=PASSWORD)
    created = client.post(
        "/api/v2/user-tokens/", json={"email": person.email, "password": PASSWORD, "name": "ci"}
    )
    assert created.status_code == 201, created.text
    body = created.json()["data"][0]
    token, token_id = body["token"], body["id"]
    issued = one(db, "credential_issued", credential_id=token_id)
    assert (issued.user_id, issued.actor_id, issued.detail) == (
        person.id,
        person.id,
        {"kind": "user_token"},
    )
    headers = {"Authorization": f"Token {token}"}
    assert client.delete(f"/api/v2/user-tokens/{token_id}/", headers=headers).status_code == 204
    revoked = one(db, "credential_revoked", credential_id=token_id)
    assert revoked.detail == {"kind": "user_token"} and revoked.ip == "127.0.0.1"

    with db.session() as s:
        action = action_tokens.create(
            s, user_id=person.id, creator_id=person.id, grants=[Grant("GET", "/api/v2/events/")]
        )
        action_id = action.row.id
    assert one(db, "credential_issued", credential_id=action_id).detail == {"kind": "action_token"}
    with db.session() as s:
        assert action_tokens.revoke(s, person.id, action_id)
    assert one(db, "credential_revoked", credential_id=action_id).actor_id == person.id
    assert_no_secret(db, logs, [PASSWORD, token, action.token])
    # One JSON log line per record (C42_LOG_FORMAT=json): the record's fields, event "audit".
    [line] = [
        json.loads(JsonFormatter().format(r))
        for r in logs.records
        if getattr(r, "event", None) == "audit"
        and r.fields["credential_id"] == token_id  # type: ignore[attr-defined]
        and r.fields["type"] == "credential_issued"  # type: ignore[attr-defined]
    ]
    assert line["event"] == "audit" and line["logger"] == "c42.audit" and line["level"] == "info"
    assert (line["user_id"], line["detail"], line["ip"]) == (
        person.id,
        {"kind": "user_token"},
        "127.0.0.1",
    )


def test_oauth_events(
    server: LiveServer,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    factory: Factory,
    logs: pytest.LogCaptureFixture,
) -> None:
    person = factory.user(password=PASSWORD)
    service_id = factory.service("Audit service")
    app = make_app(db, settings, service_id)
    browser_ = new_browser(server.url)
    browser_.login(person)
    verifier, challenge = pkce()
    code = browser_.code(app, scope="service.read", challenge=challenge)
    given = one(db, "consent_given", user_id=person.id)
    assert given.client_id == app.client_id and given.detail == {"scope": "service.read"}
    pair = exchange(client, app, code, verifier).json()
    issued = one(db, "credential_issued", user_id=person.id, client_id=app.client_id)
    assert issued.detail == {"kind": "oauth", "scope": "service.read"}
    assert issued.service_id == service_id and issued.credential_id

    replay = exchange(client, app, code, verifier)
    assert replay.status_code == 400
    punished = one(db, "authorization_code_reuse", user_id=person.id)
    assert punished.client_id == app.client_id and punished.credential_id

    code2 = browser_.code(app, scope="service.read", challenge=pkce()[1])
    verifier3, challenge3 = pkce()
    code3 = browser_.code(app, scope="service.read", challenge=challenge3)
    second = exchange(client, app, code3, verifier3).json()
    rotated = refresh(client, app, second["refresh_token"]).json()
    assert "access_token" in refresh(client, app, rotated["refresh_token"]).json()
    assert refresh(client, app, second["refresh_token"]).status_code == 400  # a stolen copy
    reuse = one(db, "refresh_token_reuse", user_id=person.id)
    assert reuse.client_id == app.client_id and reuse.detail["family_id"]

    code4 = browser_.code(app, scope="service.read", challenge=pkce()[1])
    verifier5, challenge5 = pkce()
    code5 = browser_.code(app, scope="service.read", challenge=challenge5)
    third = exchange(client, app, code5, verifier5).json()
    answer = client.post("/oauth2/revoke/", data={"token": third["refresh_token"]}, auth=app.auth)
    assert answer.status_code == 200
    via = [r for r in records(db, type="credential_revoked", user_id=person.id)]
    assert via and via[-1].detail["via"] == "revocation_endpoint"

    page = browser_.http.get("/account/apps/")
    form = {"csrf_token": csrf_from(page.text)}
    assert browser_.http.post(f"/account/apps/{app.id}/revoke/", data=form).status_code == 303
    one(db, "consent_withdrawn", user_id=person.id, client_id=app.client_id)
    browser_.http.close()
    secrets = [PASSWORD, app.client_secret or "", pair["access_token"], pair["refresh_token"]]
    secrets += [second["refresh_token"], rotated["access_token"], third["refresh_token"]]
    assert_no_secret(db, logs, [*secrets, code, code2, code3, code4, code5, verifier])
    assert bearer(pair)  # the pair is real (used above through the code)


def test_sandbox_created(db: Database, factory: Factory) -> None:
    service_id = factory.service("Sandbox audit")
    email = unique_email("sandbox")
    with db.session() as s:
        user = provision.sandbox_user(s, service_id, email)
        user_id = user.id
    record = one(db, "sandbox_created", user_id=user_id)
    assert record.service_id == service_id
    with db.session() as s:  # an open sandbox is reused: no second record
        assert provision.sandbox_user(s, service_id, email).id == user_id
    assert len(records(db, type="sandbox_created", user_id=user_id)) == 1


@pytest.fixture(scope="module")
def limited(settings: Settings, db: Database) -> Iterator[LiveServer]:
    small = settings.model_copy(update={"rate_limit_login": "2/3600"})
    live = LiveServer(small, db)
    live.start()
    yield live
    live.stop()


def test_lockout_is_recorded_once_per_window(
    limited: LiveServer, db: Database, factory: Factory
) -> None:
    limited.app.state.login_limiter = RateLimiter("login", 2, 3600)
    person = factory.user(password=PASSWORD)
    with browser(limited.url) as web:
        statuses = [log_in(web, person.email, "not the password").status_code for _ in range(5)]
    assert statuses == [400, 400, 429, 429, 429]
    lockout = one(db, "rate_limit_lockout", user_id=person.id)
    assert lockout.detail == {"limiter": "login", "window_seconds": 3600}
    assert lockout.ip == "127.0.0.1"


def test_a_record_is_rolled_back_with_its_change(db: Database, factory: Factory) -> None:
    person = factory.user()
    with pytest.raises(RuntimeError), db.session() as s:
        audit.record(s, "admin.test", user_id=person.id)
        raise RuntimeError("the change fails")
    assert records(db, type="admin.test", user_id=person.id) == []


def test_detail_naming_a_secret_is_refused(db: Database) -> None:
    with pytest.raises(ValueError), db.session() as s:
        audit.record(s, "admin.test", client_secret="x")
