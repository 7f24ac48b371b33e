"""A sandbox is a closed world (SPEC §5.4): its token reads and changes only data created in
that sandbox; sharing is refused with 403 `service_verification_required`; nothing of it is
visible to other services, other sandboxes, or any User Token or Action Token; nobody can
invite a sandbox user; sandbox users hold no User or Action Tokens and never log in to pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from c42.auth import secrets
from c42.auth.oauth import bearer as bearer_lookup
from c42.auth.oauth import tokens
from c42.auth.subject import CredentialKind
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.models import ServiceSubscription, User
from c42.settings import Settings
from c42.web.session import COOKIE_NAME
from tests.factories import Factory
from tests.silent.helpers import (
    NORMAL_EVENT,
    App,
    address,
    bearer,
    create,
    ids,
    make_app,
    sandbox_token,
    sandbox_users,
)
from tests.web.helpers import logged_in_with, planted_session

VERIFY = "service_verification_required"


@dataclass
class Sandbox:
    email: str
    user_id: str
    token: dict[str, Any]
    headers: dict[str, str]
    calendar: dict[str, Any]
    event: dict[str, Any]


def open_sandbox(client: httpx.Client, db: Database, app: App, email: str | None = None) -> Sandbox:
    email = email or address()
    token = sandbox_token(client, app, email)
    headers = bearer(token)
    calendar = create(client, headers, "/api/v2/calendars/", {"name": "Sandbox calendar"})
    event = create(
        client, headers, "/api/v2/events/", {**NORMAL_EVENT, "calendar_ids": [calendar["id"]]}
    )
    [user] = [u for u in sandbox_users(db, email) if u.sandbox_service_id == app.service_id]
    return Sandbox(email, user.id, token, headers, calendar, event)


def mint_bearer(
    db: Database, app: App, user_id: str, scope: str = "service.read service.write"
) -> dict[str, str]:
    """An access token for a real user, issued through the OAuth core's own storage."""
    access = secrets.new_opaque_token()
    with db.unit_of_work() as work:
        tokens.insert(
            work,
            app_id=app.id,
            user_id=user_id,
            access_token=access,
            refresh_token=None,
            scope=scope,
            family_id=None,
            code_id=None,
            access_lifetime=3600,
            refresh_lifetime=3600,
        )
    return bearer(access)


def test_the_bearer_lookup_marks_the_caller_as_a_sandbox_of_the_apps_service(
    client: httpx.Client, db: Database, app: App
) -> None:
    box = open_sandbox(client, db, app)
    entry = bearer_lookup.lookup(db, secrets.digest(box.token["access_token"]))
    subject = entry.subject
    assert subject is not None
    assert subject.kind is CredentialKind.OAUTH
    assert subject.is_sandbox and subject.service_id == app.service_id
    assert subject.user_id == box.user_id and not subject.is_staff


def test_a_sandbox_token_for_an_app_of_another_service_is_refused(
    client: httpx.Client, db: Database, settings: Settings, factory: Factory, app: App
) -> None:
    box = open_sandbox(client, db, app)
    foreign = make_app(db, settings, factory.service("Foreign"))
    headers = mint_bearer(db, foreign, box.user_id)  # never issued by the flow; planted here
    refused = client.get("/api/v2/events/", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    same_service = mint_bearer(db, make_app(db, settings, app.service_id), box.user_id)
    assert ids(client, same_service, "/api/v2/events/") == {box.event["id"]}  # control


def test_the_sandbox_creates_reads_changes_and_deletes_its_own_data(
    client: httpx.Client, db: Database, app: App
) -> None:
    box = open_sandbox(client, db, app)
    h = box.headers
    assert box.event["creator"] == box.calendar["creator"] == box.user_id
    assert ids(client, h, "/api/v2/calendars/") == {box.calendar["id"]}
    assert ids(client, h, "/api/v2/events/") == {box.event["id"]}
    todo = create(client, h, "/api/v2/events/", {"event_type": "todo", "title": "Call"})
    assert ids(client, h, "/api/v2/events/") == {box.event["id"], todo["id"]}
    changed = client.patch(f"/api/v2/events/{todo['id']}/", json={"title": "Call back"}, headers=h)
    assert changed.status_code == 200 and changed.json()["data"][0]["title"] == "Call back"
    renamed = client.patch(
        f"/api/v2/calendars/{box.calendar['id']}/", json={"name": "Renamed"}, headers=h
    )
    assert renamed.status_code == 200
    assert client.delete(f"/api/v2/events/{todo['id']}/", headers=h).status_code == 204
    assert client.get(f"/api/v2/events/{todo['id']}/", headers=h).status_code == 404
    assert client.delete(f"/api/v2/calendars/{box.calendar['id']}/", headers=h).status_code == 204
    assert ids(client, h, "/api/v2/calendars/") == set()


def test_the_sandbox_reaches_nothing_it_did_not_create(
    client: httpx.Client, db: Database, settings: Settings, factory: Factory, app: App
) -> None:
    owner = factory.user()
    factory.subscribe(app.service_id, owner)
    theirs = create(client, owner.headers, "/api/v2/calendars/", {"name": "Theirs"})
    their_event = create(client, owner.headers, "/api/v2/events/", NORMAL_EVENT)
    in_service = mint_bearer(db, make_app(db, settings, app.service_id), owner.id)
    service_event = create(client, in_service, "/api/v2/events/", NORMAL_EVENT)
    service_calendar = create(client, in_service, "/api/v2/calendars/", {"name": "In service"})

    box = open_sandbox(client, db, app)
    h = box.headers
    assert ids(client, h, "/api/v2/events/") == {box.event["id"]}
    assert ids(client, h, "/api/v2/calendars/") == {box.calendar["id"]}
    for event_id in (their_event["id"], service_event["id"]):
        assert client.get(f"/api/v2/events/{event_id}/", headers=h).status_code == 404
        patched = client.patch(f"/api/v2/events/{event_id}/", json={"title": "x"}, headers=h)
        assert patched.status_code == 404
        assert client.delete(f"/api/v2/events/{event_id}/", headers=h).status_code == 404
    for calendar_id in (theirs["id"], service_calendar["id"]):
        assert client.get(f"/api/v2/calendars/{calendar_id}/", headers=h).status_code == 404
        into = client.post(
            "/api/v2/events/", json={**NORMAL_EVENT, "calendar_ids": [calendar_id]}, headers=h
        )
        assert into.status_code == 404
    assert ids(client, owner.headers, "/api/v2/events/") >= {their_event["id"]}
    assert (
        client.get(f"/api/v2/events/{service_event['id']}/", headers=in_service).json()["data"][0][
            "title"
        ]
        == NORMAL_EVENT["title"]
    )


def test_nothing_of_the_sandbox_is_visible_to_anyone_else(
    client: httpx.Client, db: Database, settings: Settings, factory: Factory, app: App
) -> None:
    box = open_sandbox(client, db, app)
    admin = factory.user()
    with db.session() as session:
        session.add(ServiceSubscription(service_id=app.service_id, user_id=admin.id, is_admin=True))
    member = factory.user()
    factory.subscribe(app.service_id, member)
    other_sandbox = open_sandbox(client, db, app)  # same service, another address
    other_service = factory.service("Other service")
    elsewhere = open_sandbox(client, db, make_app(db, settings, other_service), box.email)
    observers = {
        "admin User Token": admin.headers,
        "member User Token": member.headers,
        "member Bearer, same service": mint_bearer(
            db, make_app(db, settings, app.service_id), member.id
        ),
        "admin Bearer, same service": mint_bearer(db, app, admin.id),
        "other sandbox, same service": other_sandbox.headers,
        "same address, other service's sandbox": elsewhere.headers,
    }
    for name, headers in observers.items():
        for path in ("/api/v2/events/", "/api/v2/calendars/"):
            assert not ids(client, headers, path) & {box.event["id"], box.calendar["id"]}, name
        for path in (
            f"/api/v2/events/{box.event['id']}/",
            f"/api/v2/calendars/{box.calendar['id']}/",
        ):
            assert client.get(path, headers=headers).status_code == 404, name
        assert (
            client.patch(
                f"/api/v2/events/{box.event['id']}/", json={"title": "x"}, headers=headers
            ).status_code
            == 404
        ), name
        subs = client.get(
            "/api/v2/event-subscriptions/",
            params={"event_ids": f"[{box.event['id']}]"},
            headers=headers,
        )
        assert subs.status_code == 200 and subs.json()["data"] == [], name
        synced = client.get(
            "/api/v2/events/", params={"sync_token": 0, "limit": 100}, headers=headers
        )
        assert box.event["id"] not in {e["id"] for e in synced.json()["data"]}, name
    # The same address's sandbox in another service is a different user with its own data.
    assert elsewhere.user_id != box.user_id
    assert ids(client, elsewhere.headers, "/api/v2/events/") == {elsewhere.event["id"]}
    # And the sandbox still sees its own.
    assert ids(client, box.headers, "/api/v2/events/") == {box.event["id"]}


def test_an_action_token_reaches_nothing_of_the_sandbox(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> None:
    box = open_sandbox(client, db, app)
    person = factory.user()
    body = {
        "grants": [
            {"method": "GET", "route": "/api/v2/events/{id}/", "params": {"id": box.event["id"]}},
            {"method": "GET", "route": "/api/v2/events/"},
        ]
    }
    created = client.post("/api/v2/action-tokens/", json=body, headers=person.headers)
    assert created.status_code == 201, created.text
    action = {"Authorization": f"ActionToken {created.json()['data'][0]['token']}"}
    assert client.get(f"/api/v2/events/{box.event['id']}/", headers=action).status_code == 404
    assert box.event["id"] not in ids(client, action, "/api/v2/events/")


@pytest.mark.parametrize("by", ["user_id", "email"])
def test_sharing_an_event_is_refused(
    client: httpx.Client, db: Database, factory: Factory, app: App, by: str
) -> None:
    box = open_sandbox(client, db, app)
    friend = factory.user()
    invitee_email = address("invitee")
    subscriber = {"user_id": friend.id} if by == "user_id" else {"email": invitee_email}
    body = {"event_id": box.event["id"], "subscriber": subscriber, "permission": "invited_read"}
    refused = client.post("/api/v2/event-subscriptions/", json=body, headers=box.headers)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == VERIFY and "normal OAuth flow" in error["message"]
    with db.session(write=False) as session:  # no placeholder account was made for the invitee
        assert session.scalar(select(User.id).where(User.email == invitee_email)) is None
    assert (
        client.get(f"/api/v2/events/{box.event['id']}/", headers=friend.headers).status_code == 404
    )
    listed = client.get(
        "/api/v2/event-subscriptions/",
        params={"event_ids": f"[{box.event['id']}]"},
        headers=box.headers,
    )
    assert [s["subscriber"]["user_id"] for s in listed.json()["data"]] == [box.user_id]


@pytest.mark.parametrize("by", ["user_id", "email"])
def test_sharing_a_calendar_is_refused(
    client: httpx.Client, db: Database, factory: Factory, app: App, by: str
) -> None:
    box = open_sandbox(client, db, app)
    friend = factory.user()
    subscriber = {"user_id": friend.id} if by == "user_id" else {"email": friend.email}
    body = {
        "calendar_id": box.calendar["id"],
        "subscriber": subscriber,
        "permission": "invited_write",
    }
    refused = client.post("/api/v2/calendar-subscriptions/", json=body, headers=box.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == VERIFY
    assert (
        client.get(f"/api/v2/calendars/{box.calendar['id']}/", headers=friend.headers).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("patch", {"permission": "invited_read"}),
        ("patch", {"permission": "invited_write"}),
        ("patch", {"message": "join me"}),
        ("put", {"permission": "invited_read"}),
    ],
    ids=["patch-invited-read", "patch-invited-write", "patch-message", "put-permission"],
)
def test_permission_changes_on_event_subscriptions_are_refused(
    client: httpx.Client, db: Database, app: App, method: str, change: dict[str, str]
) -> None:
    box = open_sandbox(client, db, app)
    listed = client.get(
        "/api/v2/event-subscriptions/",
        params={"event_ids": f"[{box.event['id']}]"},
        headers=box.headers,
    )
    [own] = listed.json()["data"]
    path = f"/api/v2/event-subscriptions/{own['id']}/"
    refused = getattr(client, method)(path, json=change, headers=box.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == VERIFY
    after = client.get(path, headers=box.headers).json()["data"][0]
    assert after["permission"] == own["permission"] and after["sync_token"] == own["sync_token"]


def test_permission_changes_on_calendar_subscriptions_are_refused(
    client: httpx.Client, db: Database, app: App
) -> None:
    box = open_sandbox(client, db, app)
    listed = client.get(
        "/api/v2/calendar-subscriptions/",
        params={"calendar_ids": f"[{box.calendar['id']}]"},
        headers=box.headers,
    )
    [own] = listed.json()["data"]
    path = f"/api/v2/calendar-subscriptions/{own['id']}/"
    for permission in ("invited_read", "invited_write"):
        refused = client.patch(path, json={"permission": permission}, headers=box.headers)
        assert refused.status_code == 403
    after = client.get(path, headers=box.headers).json()["data"][0]
    assert after["permission"] == "subscribed_write" and after["sync_token"] == own["sync_token"]


def test_nobody_can_invite_a_sandbox_user(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> None:
    box = open_sandbox(client, db, app)
    owner = factory.user()
    event = create(client, owner.headers, "/api/v2/events/", NORMAL_EVENT)
    calendar = create(client, owner.headers, "/api/v2/calendars/", {"name": "Owner's"})
    by_id = {"user_id": box.user_id}
    invite = {"event_id": event["id"], "subscriber": by_id, "permission": "invited_write"}
    refused = client.post("/api/v2/event-subscriptions/", json=invite, headers=owner.headers)
    assert refused.status_code == 400
    share = {"calendar_id": calendar["id"], "subscriber": by_id, "permission": "invited_write"}
    refused = client.post("/api/v2/calendar-subscriptions/", json=share, headers=owner.headers)
    assert refused.status_code == 400
    # By address, the invitation is for the real account of that address (here a new
    # placeholder), never for the sandbox.
    by_email = {**invite, "subscriber": {"email": box.email}}
    invited = client.post("/api/v2/event-subscriptions/", json=by_email, headers=owner.headers)
    assert invited.status_code == 201, invited.text
    assert invited.json()["data"][0]["subscriber"]["user_id"] != box.user_id
    assert client.get(f"/api/v2/events/{event['id']}/", headers=box.headers).status_code == 404
    assert event["id"] not in ids(client, box.headers, "/api/v2/events/")


def test_sandbox_users_hold_no_action_tokens(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> None:
    box = open_sandbox(client, db, app)
    admin = factory.user()
    with db.session() as session:
        session.add(ServiceSubscription(service_id=app.service_id, user_id=admin.id, is_admin=True))
    body = {
        "user_id": box.user_id,
        "service_id": app.service_id,
        "grants": [{"method": "GET", "route": "/api/v2/events/"}],
    }
    refused = client.post("/api/v2/action-tokens/", json=body, headers=admin.headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["fields"] == {"user_id": "sandbox user"}
    own = {"grants": [{"method": "GET", "route": "/api/v2/events/"}]}
    by_sandbox = client.post("/api/v2/action-tokens/", json=own, headers=box.headers)
    assert by_sandbox.status_code == 403


def test_sandbox_users_hold_no_user_tokens(client: httpx.Client, db: Database, app: App) -> None:
    box = open_sandbox(client, db, app)
    for password in ("", "anything-at-all-1", "None"):
        answer = client.post(
            "/api/v2/user-tokens/", json={"email": box.email, "password": password}
        )
        assert answer.status_code == 401 and "data" not in answer.json(), answer.text
    assert client.get("/api/v2/user-tokens/", headers=box.headers).status_code == 403
    # Should a User Token row ever exist for a sandbox user, authentication refuses it.
    with db.session() as session:
        planted = user_tokens.create(session, box.user_id, "planted")
    refused = client.get("/api/v2/events/", headers={"Authorization": f"Token {planted.token}"})
    assert refused.status_code == 401


def test_sandbox_users_never_log_in_to_pages(
    client: httpx.Client, db: Database, settings: Settings, factory: Factory, app: App, server: Any
) -> None:
    box = open_sandbox(client, db, app)
    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/accounts/login/")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        for password in ("", "x" * 12):
            tried = browser.post(
                "/accounts/login/",
                data={"csrf_token": csrf, "email": box.email, "password": password},
            )
            assert tried.status_code != 303
        assert browser.get("/accounts/").status_code != 200
    # Even a server-side session planted for the sandbox user is not a login...
    assert not logged_in_with(server.url, planted_session(db, settings, box.user_id))
    # ...while the same plant for a real account would be (the check above can fail).
    real = factory.user(password="a real password 42")
    assert logged_in_with(server.url, planted_session(db, settings, real.id))


def test_the_sandbox_cannot_authorize_apps_as_a_logged_in_user(
    client: httpx.Client, db: Database, settings: Settings, app: App, server: Any
) -> None:
    box = open_sandbox(client, db, app)
    cookie = planted_session(db, settings, box.user_id)
    with httpx.Client(base_url=server.url, cookies={COOKIE_NAME: cookie}) as browser:
        answer = browser.get(
            "/oauth2/authorize/",
            params={
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uri,
                "state": "s",
            },
        )
    assert answer.status_code == 302 and "/accounts/login/" in answer.headers["location"]
