"""The admin console (SPEC §8) over HTTP: 404 for anonymous and non-staff callers (the same
answer as an unknown path, also for forms), CSRF on every form, every action done through the
domain functions and audited with the staff user as actor; `c42 user staff` and `c42 audit`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from c42.db import Database
from c42.models import AuditEvent, OAuthApp, User, UserToken
from c42.settings import Settings
from c42.web.admin.apps import FLAGS, _Flags
from tests.cli.test_cli_operators import Cli
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import PASSWORD, exchange, make_app, new_browser, pkce
from tests.web.helpers import browser, csrf_from, log_in

PAGES = ["/admin/", "/admin/services/", "/admin/apps/", "/admin/audit/"]


@pytest.fixture(scope="module")
def cli(settings: Settings) -> Cli:
    env = {**os.environ, "C42_DATABASE_URL": settings.database_url}
    env["C42_SECRET_KEY"] = settings.secret_key
    env.pop("C42_TEST_DATABASE_URL", None)
    env.pop("C42_REDIS_URL", None)
    return Cli(env)


@pytest.fixture
def staff(factory: Factory, cli: Cli) -> Person:
    person = factory.user(password=PASSWORD, prefix="staff")
    cli.ok("user", "staff", person.email)
    return person


@pytest.fixture
def console(server: LiveServer, staff: Person) -> Iterator[httpx.Client]:
    with browser(server.url) as web:
        assert log_in(web, staff.email, PASSWORD).status_code == 303
        yield web


def post(web: httpx.Client, page: str, action: str, data: dict[str, str] | None = None) -> Any:
    token = csrf_from(web.get(page).text)
    return web.post(action, data={**(data or {}), "csrf_token": token})


def last_record(db: Database, type: str) -> AuditEvent:
    with db.session(write=False) as s:
        row = s.scalar(
            select(AuditEvent).where(AuditEvent.type == type).order_by(AuditEvent.time.desc())
        )
    assert row is not None, type
    return row


def test_anonymous_and_non_staff_get_the_unknown_page_answer(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as anonymous, browser(server.url) as member:
        assert log_in(member, person.email, PASSWORD).status_code == 303
        unknown = anonymous.get("/no-such-page/")
        for web in (anonymous, member):
            for path in [*PAGES, f"/admin/users/{person.id}/"]:
                answer = web.get(path)
                assert answer.status_code == 404, path
                assert answer.text == unknown.text  # nothing tells the console exists
            forged = web.post(f"/admin/users/{person.id}/deactivate/", data={"csrf_token": "x"})
            assert forged.status_code == 404 and forged.text == unknown.text
    with db.session(write=False) as s:
        assert s.get(User, person.id).is_active  # type: ignore[union-attr]


def test_staff_flag_by_cli_is_audited_and_can_be_taken_away(
    cli: Cli, staff: Person, server: LiveServer
) -> None:
    with browser(server.url) as web:
        assert log_in(web, staff.email, PASSWORD).status_code == 303
        assert web.get("/admin/").status_code == 200
        shown = json.loads(cli.ok("user", "staff", staff.email, "--off", "--json"))
        assert shown == {"email": staff.email, "id": staff.id, "is_staff": False}
        assert web.get("/admin/").status_code == 404
    lines = cli.ok("audit", "--user", staff.email, "--type", "admin.user_staff", "--json")
    records = [json.loads(line) for line in lines.splitlines()]
    assert [r["detail"]["is_staff"] for r in records] == [False, True]  # newest first
    assert records[0]["user_id"] == staff.id and records[0]["detail"]["via"] == "cli"


def test_csrf_is_required_on_every_form(console: httpx.Client, factory: Factory) -> None:
    person = factory.user()
    for action in ("deactivate", "verify", "revoke-all"):
        answer = console.post(f"/admin/users/{person.id}/{action}/", data={})
        assert answer.status_code == 403, action
    assert console.post("/admin/apps/", data={"name": "x"}).status_code == 403


def test_find_a_user_and_change_the_account(
    console: httpx.Client, factory: Factory, db: Database, staff: Person
) -> None:
    person = factory.user(password=PASSWORD, prefix="findme")
    found = console.get("/admin/", params={"email": person.email[:14].upper()})
    assert found.status_code == 200 and person.email in found.text
    page = f"/admin/users/{person.id}/"
    for action, check in (
        ("deactivate", lambda u: not u.is_active),
        ("activate", lambda u: u.is_active),
        ("verify", lambda u: u.email_verified),
    ):
        answer = post(console, page, f"{page}{action}/")
        assert answer.status_code == 303, answer.text
        with db.session(write=False) as s:
            assert check(s.get(User, person.id)), action
        record = last_record(db, f"admin.user_{action}")
        assert (record.user_id, record.actor_id, record.ip) == (person.id, staff.id, "127.0.0.1")


def test_revoke_each_credential_and_all(
    server: LiveServer,
    console: httpx.Client,
    client: httpx.Client,
    factory: Factory,
    db: Database,
    settings: Settings,
    staff: Person,
) -> None:
    person = factory.user(password=PASSWORD)
    assert client.get("/api/v2/events/", headers=person.headers).status_code == 200
    service_id = factory.service("Console grants")
    app = make_app(db, settings, service_id)
    b = new_browser(server.url)
    b.login(person)
    verifier, challenge = pkce()
    pair = exchange(client, app, b.code(app, challenge=challenge), verifier).json()
    b.http.close()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/api/v2/events/", headers=bearer).status_code == 200

    page = f"/admin/users/{person.id}/"
    shown = console.get(page).text
    assert f'id="grant-{app.client_id}"' in shown and "Last used" in shown
    with db.session(write=False) as s:
        token_id = s.scalar(select(UserToken.id).where(UserToken.user_id == person.id))
    assert re.search(rf'id="user-token-{token_id}">.*?<td>\d{{4}}-', shown, re.S)  # last used
    answer = post(console, page, f"{page}user-tokens/{token_id}/revoke/")
    assert answer.status_code == 303
    assert client.get("/api/v2/events/", headers=person.headers).status_code == 401
    record = last_record(db, "credential_revoked")
    assert (record.credential_id, record.actor_id) == (token_id, staff.id)
    again = post(console, page, f"{page}user-tokens/{token_id}/revoke/")  # a stale page's form
    assert again.status_code == 303 and again.headers["location"].endswith("notice=gone")

    answer = post(console, page, f"{page}grants/{app.id}/revoke/")
    assert answer.status_code == 303
    assert client.get("/api/v2/events/", headers=bearer).status_code == 401
    record = last_record(db, "credential_revoked")
    assert (record.client_id, record.actor_id, record.detail["kind"]) == (
        app.client_id,
        staff.id,
        "oauth",
    )
    assert last_record(db, "consent_withdrawn").actor_id == staff.id

    answer = post(console, page, f"{page}revoke-all/")
    assert answer.status_code == 303
    record = last_record(db, "admin.user_revoke_all")
    assert record.actor_id == staff.id and record.user_id == person.id
    assert "browser_sessions" in record.detail


def test_apps_create_edit_rotate_disable(
    console: httpx.Client, client: httpx.Client, factory: Factory, db: Database, staff: Person
) -> None:
    service_id = factory.service("Console apps")
    created = post(
        console,
        "/admin/apps/",
        "/admin/apps/",
        {
            "service_id": service_id,
            "name": "Made in console",
            "redirect_uris": "https://c.example/cb",
        },
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    client_id = re.search(r'id="client-id">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="client-secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    assert last_record(db, "admin.app_create").client_id == client_id
    page = f"/admin/apps/{client_id}/"
    assert secret not in console.get(page).text  # shown once

    edited = post(
        console,
        page,
        page,
        {"name": "Renamed", "redirect_uris": "https://c.example/cb\nhttps://c.example/two"},
    )
    assert edited.status_code == 303, re.findall(r'class="alert[^>]*>([^<]*)<', edited.text)
    with db.session(write=False) as s:
        app = s.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
        assert app is not None and app.name == "Renamed" and len(app.redirect_uris) == 2
    flags = {name: "on" for name in ("device", "require_par", "require_dpop")}
    flagged = post(
        console, page, page, {"name": "Renamed", "redirect_uris": "https://c.example/cb", **flags}
    )
    assert flagged.status_code == 303
    with db.session(write=False) as s:
        app = s.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
        assert app is not None and app.allow_device and app.require_par and app.require_dpop
        assert not app.allow_silent and not app.require_pkce
    detail = last_record(db, "admin.app_update").detail
    assert detail["device"] and detail["require_par"] and detail["require_dpop"]
    shown = console.get(page).text
    assert all(f'name="{name}" checked' in shown for name in flags)
    bad = post(console, page, page, {"name": "x", "redirect_uris": "not a uri"})
    assert bad.status_code == 400 and "redirect URI" in bad.text

    rotated = post(console, page, f"{page}rotate-secret/")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new_secret = re.search(r'id="client-secret">([^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert new_secret != secret and new_secret not in console.get(page).text
    record = last_record(db, "admin.app_rotate_secret")
    assert record.client_id == client_id and record.actor_id == staff.id
    assert secret not in json.dumps(record.detail) and new_secret not in json.dumps(record.detail)

    assert post(console, page, f"{page}disable/").status_code == 303
    assert "disabled since" in console.get(page).text
    assert last_record(db, "admin.app_disable").client_id == client_id
    assert post(console, page, f"{page}enable/").status_code == 303
    assert last_record(db, "admin.app_enable").actor_id == staff.id


def test_every_console_flag_is_read_from_the_form() -> None:
    assert {name for name, _label, _attribute in FLAGS} == set(_Flags.__annotations__)


def test_services_and_audit_filters(
    console: httpx.Client, factory: Factory, db: Database, staff: Person
) -> None:
    admin = factory.user(prefix="svcadmin")
    service_id = factory.service("Console service", admin=admin)
    listing = console.get("/admin/services/")
    assert "Console service" in listing.text
    detail = console.get(f"/admin/services/{service_id}/")
    assert admin.email in detail.text and "admin" in detail.text and "Sandbox users" in detail.text

    log = console.get("/admin/audit/", params={"user": staff.email, "type": "login"})
    assert log.status_code == 200
    assert 'data-type="login"' in log.text and 'data-type="logout"' not in log.text
    empty = console.get("/admin/audit/", params={"since": "2999-01-01T00:00"})
    assert 'class="audit-record"' not in empty.text
    bad = console.get("/admin/audit/", params={"since": "yesterday"})
    assert "YYYY-MM-DD" in bad.text


def test_cli_audit_filters(cli: Cli, staff: Person) -> None:
    lines = cli.ok("audit", "--user", staff.email, "--limit", "5", "--json").splitlines()
    assert lines and all(json.loads(line)["user_id"] == staff.id for line in lines)
    text = cli.ok("audit", "--type", "admin.*", "--since", "2000-01-01T00:00:00Z", "--limit", "3")
    assert "admin." in text
    cli.fails(2, "audit", "--since", "not a time")
    cli.fails(2, "audit", "--limit", "0")
    cli.fails(2, "audit", "--user", "nobody-here@example.com")
    assert cli.ok("audit", "--since", "2999-01-01", "--json") == ""


@pytest.mark.parametrize("path", ["/admin", "/admin/apps", "/admin/audit", "/admin/services"])
def test_console_paths_without_slash_are_unknown_to_strangers(
    client: httpx.Client, path: str
) -> None:
    """c42.trailing_slash: Starlette's slash redirect would tell a stranger the console exists."""
    unknown = client.get("/no-such-page", headers={"Accept": "application/json"})
    answer = client.get(path, headers={"Accept": "application/json"}, follow_redirects=False)
    assert answer.status_code == unknown.status_code == 404
    assert "location" not in answer.headers
    assert answer.json() == unknown.json()


def test_slash_redirects_stay_for_staff_and_every_other_route(
    server: LiveServer, console: httpx.Client, client: httpx.Client
) -> None:
    answer = console.get("/admin", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"{server.url}/admin/"
    answer = client.get("/accounts/login?next=/x", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"{server.url}/accounts/login/?next=/x"
