"""Requests made with an Action Token (SPEC §5.2): only the granted endpoints and objects, with
exactly what the user's User Token would see there; 401 once expired, used up, revoked, or
when the user or the service relationship is no longer valid."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from c42.auth import secrets
from c42.db import Database
from c42.models import ActionToken, ServiceSubscription, User, utcnow
from tests.action_tokens.helpers import (
    BASE,
    EVENT,
    EVENTS,
    action,
    create_token,
    error_code,
    grant,
)
from tests.factories import Factory, Person, calendar, event, share_calendar


def _event_path(event_id: str) -> str:
    return f"/api/v2/events/{event_id}/"


def test_outside_the_grants_is_403_endpoint_not_allowed(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    token = create_token(client, ann, [grant("GET", EVENT, id=ev["id"])])["token"]
    headers = action(token)
    assert client.get(_event_path(ev["id"]), headers=headers).status_code == 200
    refused = [
        client.patch(_event_path(ev["id"]), json={"title": "x"}, headers=headers),
        client.delete(_event_path(ev["id"]), headers=headers),
        client.get(EVENTS, headers=headers),
        client.post(EVENTS, json={"event_type": "todo", "title": "x"}, headers=headers),
        client.get("/api/v2/calendars/", headers=headers),
        client.get("/api/v2/event-subscriptions/", headers=headers),
    ]
    for response in refused:
        assert response.status_code == 403, response.request.url
        assert error_code(response) == "endpoint_not_allowed"
    # Nothing was changed by the refused write.
    got = client.get(_event_path(ev["id"]), headers=ann.headers).json()["data"][0]
    assert got["title"] == "Meeting"


def test_pinned_object_only(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    mine, other = event(client, ann, title="Pinned"), event(client, ann, title="Other")
    headers = action(create_token(client, ann, [grant("GET", EVENT, id=mine["id"])])["token"])
    assert (
        client.get(_event_path(mine["id"]), headers=headers).json()["data"][0]["id"] == (mine["id"])
    )
    response = client.get(_event_path(other["id"]), headers=headers)
    assert response.status_code == 403 and error_code(response) == "endpoint_not_allowed"
    assert "Other" not in response.text


def test_same_visibility_as_the_user_token(client: httpx.Client, factory: Factory) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    shared = event(client, ann, [cal["id"]], title="Shared")
    private = event(client, ann, title="Private")
    share_calendar(client, ann, cal["id"], bob, "invited_read")
    token = create_token(client, bob, [grant("GET", EVENT), grant("PATCH", EVENT)])["token"]
    for event_id in (shared["id"], private["id"]):
        by_token = client.get(_event_path(event_id), headers=action(token))
        by_user = client.get(_event_path(event_id), headers=bob.headers)
        assert by_token.status_code == by_user.status_code
        assert by_token.json() == by_user.json()
    assert client.get(_event_path(private["id"]), headers=action(token)).status_code == 404
    # Reading is allowed, writing is not: the same 403 as the User Token gets.
    change = client.patch(_event_path(shared["id"]), json={"title": "x"}, headers=action(token))
    assert change.status_code == 403 and error_code(change) == "forbidden"


def test_writes_within_the_grants(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    ev = event(client, ann)
    token = create_token(client, ann, [grant("PATCH", EVENT, id=ev["id"])])["token"]
    changed = client.patch(_event_path(ev["id"]), json={"title": "New"}, headers=action(token))
    assert changed.status_code == 200, changed.text
    assert client.get(_event_path(ev["id"]), headers=ann.headers).json()["data"][0]["title"] == (
        "New"
    )


def test_max_uses_then_401_and_refusals_do_not_count(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    created = create_token(client, ann, [grant("GET", EVENT, id=ev["id"])], max_uses=2)
    headers = action(created["token"])
    assert client.get(EVENTS, headers=headers).status_code == 403  # outside: not a use
    assert client.get(_event_path(ev["id"]), headers=headers).status_code == 200
    assert client.get(_event_path(ev["id"]), headers=headers).status_code == 200
    used_up = client.get(_event_path(ev["id"]), headers=headers)
    assert used_up.status_code == 401 and error_code(used_up) == "invalid_token"
    assert "used up" in used_up.json()["error"]["message"]
    assert "ActionToken" in used_up.headers["www-authenticate"]
    meta = client.get(f"{BASE}{created['id']}/", headers=ann.headers).json()["data"][0]
    assert meta["use_count"] == 2 and meta["last_used"] is not None


def test_unlimited_tokens_do_not_count(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", EVENTS)])
    for _ in range(3):
        assert client.get(EVENTS, headers=action(created["token"])).status_code == 200
    meta = client.get(f"{BASE}{created['id']}/", headers=ann.headers).json()["data"][0]
    assert meta["use_count"] == 0 and meta["max_uses"] is None
    assert meta["last_used"] is not None


def test_expired_token_is_401(client: httpx.Client, factory: Factory, db: Database) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", EVENTS)], expires_in=60)
    with db.session() as s:  # before its first use, so no cache entry exists yet
        s.execute(
            update(ActionToken)
            .where(ActionToken.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = client.get(EVENTS, headers=action(created["token"]))
    assert response.status_code == 401 and error_code(response) == "invalid_token"


def test_revoked_token_is_401_at_once(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", EVENTS)])
    assert client.get(EVENTS, headers=action(created["token"])).status_code == 200  # cached
    assert client.delete(f"{BASE}{created['id']}/", headers=ann.headers).status_code == 204
    response = client.get(EVENTS, headers=action(created["token"]))
    assert response.status_code == 401 and error_code(response) == "invalid_token"
    again = client.delete(f"{BASE}{created['id']}/", headers=ann.headers)
    assert again.status_code == 404


def test_unknown_and_malformed_tokens_are_401(client: httpx.Client) -> None:
    for value in (secrets.new_server_token(), "abc", "A" * 40, "g" * 40):
        response = client.get(EVENTS, headers=action(value))
        assert response.status_code == 401 and error_code(response) == "invalid_token"


def test_inactive_user_is_401(client: httpx.Client, factory: Factory, db: Database) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", EVENTS)])
    with db.session() as s:
        s.execute(update(User).where(User.id == ann.id).values(is_active=False))
    response = client.get(EVENTS, headers=action(created["token"]))
    assert response.status_code == 401 and error_code(response) == "inactive_user"


def test_a_sandbox_user_never_holds_one(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    """Even a row written behind the API's back does not authenticate a sandbox user."""
    admin = factory.user()
    service_id = factory.service("Sandbox home", admin=admin)
    secret = secrets.new_server_token()
    with db.session() as s:
        sandbox = User(email="sandboxed@example.com", sandbox_service_id=service_id)
        s.add(sandbox)
        s.flush()
        s.add(ServiceSubscription(service_id=service_id, user_id=sandbox.id))
        s.add(
            ActionToken(
                user_id=sandbox.id,
                creator_id=admin.id,
                digest=secrets.digest(secret),
                grants=[{"method": "GET", "route": EVENTS, "params": {}}],
                service_id=service_id,
            )
        )
    response = client.get(EVENTS, headers=action(secret))
    assert response.status_code == 401 and error_code(response) == "invalid_token"


def _service_world(client: httpx.Client, factory: Factory) -> tuple[Person, Person, str, str]:
    """An admin of service S, a member invited to an event created inside S."""
    admin, member = factory.user(prefix="admin"), factory.user(prefix="member")
    service_id = factory.service("Club", admin=admin)
    factory.subscribe(service_id, member)
    # The admin's own token narrowed to S creates the event inside S.
    scoped = create_token(
        client,
        admin,
        [grant("POST", EVENTS), grant("POST", "/api/v2/event-subscriptions/")],
        service_id=service_id,
    )["token"]
    created = client.post(
        EVENTS,
        json={
            "event_type": "todo",
            "title": "Club night",
        },
        headers=action(scoped),
    )
    assert created.status_code == 201, created.text
    invite = client.post(
        "/api/v2/event-subscriptions/",
        json={"event_id": created.json()["data"][0]["id"], "subscriber": {"user_id": member.id}},
        headers=action(scoped),
    )
    assert invite.status_code == 201, invite.text
    return admin, member, service_id, created.json()["data"][0]["id"]


def test_delegated_token_reaches_only_the_service(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    admin, member, service_id, club_event = _service_world(client, factory)
    private = event(client, member, title="Member's own")  # not in the service
    token = create_token(
        client, admin, [grant("GET", EVENT), grant("GET", EVENTS)], user_id=member.id
    )["token"]
    assert client.get(_event_path(club_event), headers=action(token)).status_code == 200
    assert client.get(_event_path(private["id"]), headers=member.headers).status_code == 200
    hidden = client.get(_event_path(private["id"]), headers=action(token))
    assert hidden.status_code == 404 and error_code(hidden) == "not_found"
    listed = client.get(EVENTS, headers=action(token)).json()["data"]
    assert [e["id"] for e in listed] == [club_event]
    with db.session() as s:
        assert s.scalar(select(ActionToken.service_id).where(ActionToken.user_id == member.id)) == (
            service_id
        )


def test_delegated_token_stops_with_the_relationship(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    admin, member, service_id, club_event = _service_world(client, factory)
    grants = [grant("GET", EVENT)]
    member_left = create_token(client, admin, grants, user_id=member.id)["token"]
    admin_demoted = create_token(client, admin, grants, user_id=member.id)["token"]

    def set_subscription(user_id: str, **values: bool) -> None:
        with db.session() as s:
            s.execute(
                update(ServiceSubscription)
                .where(
                    ServiceSubscription.service_id == service_id,
                    ServiceSubscription.user_id == user_id,
                )
                .values(**values)
            )

    set_subscription(member.id, is_active=False)
    assert client.get(_event_path(club_event), headers=action(member_left)).status_code == 401
    set_subscription(member.id, is_active=True)
    set_subscription(admin.id, is_admin=False)
    assert client.get(_event_path(club_event), headers=action(admin_demoted)).status_code == 401
