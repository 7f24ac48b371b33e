"""Who may create an Action Token for whom (SPEC §5.2): oneself, or — as an active admin of a
service S — a user actively subscribed to S, whose token then reaches only S's data."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from c42.db import Database
from c42.models import ServiceSubscription, User
from tests.action_tokens.helpers import BASE, EVENTS, create_token, error_code, grant
from tests.factories import Factory, Person

GRANTS = [grant("GET", EVENTS)]


def _create(client: httpx.Client, creator: Person, **fields: object) -> httpx.Response:
    return client.post(BASE, json={"grants": GRANTS, **fields}, headers=creator.headers)


def _service_with_member(factory: Factory) -> tuple[Person, Person, str]:
    admin, member = factory.user(prefix="admin"), factory.user(prefix="member")
    service_id = factory.service("Delegation", admin=admin)
    factory.subscribe(service_id, member)
    return admin, member, service_id


def test_service_admin_creates_a_token_for_a_member(client: httpx.Client, factory: Factory) -> None:
    admin, member, service_id = _service_with_member(factory)
    created = create_token(client, admin, GRANTS, user_id=member.id, name="rsvp")
    assert created["user_id"] == member.id
    assert created["creator_id"] == admin.id
    assert created["service_id"] == service_id
    # Both the creator and the holder see it; the holder may revoke it.
    assert created["id"] in {
        t["id"] for t in client.get(BASE, headers=admin.headers).json()["data"]
    }
    held = client.get(f"{BASE}{created['id']}/", headers=member.headers)
    assert held.status_code == 200 and held.json()["data"][0]["user_id"] == member.id
    assert client.delete(f"{BASE}{created['id']}/", headers=member.headers).status_code == 204
    assert client.get(f"{BASE}{created['id']}/", headers=admin.headers).status_code == 404


def test_a_plain_member_cannot_create_for_another_member(
    client: httpx.Client, factory: Factory
) -> None:
    _admin, member, service_id = _service_with_member(factory)
    other = factory.user()
    factory.subscribe(service_id, other)
    response = _create(client, member, user_id=other.id)
    assert response.status_code == 403 and error_code(response) == "forbidden"


def test_admin_cannot_create_for_a_non_member_or_an_unknown_user(
    client: httpx.Client, factory: Factory
) -> None:
    admin, _member, _service_id = _service_with_member(factory)
    stranger = factory.user()
    for user_id in (stranger.id, uuid.uuid4().hex):
        response = _create(client, admin, user_id=user_id)
        assert response.status_code == 403 and error_code(response) == "forbidden"
    messages = {_create(client, admin, user_id=u).json()["error"]["message"]
                for u in (stranger.id, uuid.uuid4().hex)}  # fmt: skip
    assert len(messages) == 1  # the answer does not tell whether the account exists


def test_inactive_subscriptions_do_not_delegate(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    admin, member, service_id = _service_with_member(factory)
    factory.subscribe(service_id, member, active=False)
    assert _create(client, admin, user_id=member.id).status_code == 403

    admin2, member2, service2 = _service_with_member(factory)
    with db.session() as s:
        s.execute(
            update(ServiceSubscription)
            .where(
                ServiceSubscription.service_id == service2,
                ServiceSubscription.user_id == admin2.id,
            )
            .values(is_active=False)
        )
    assert _create(client, admin2, user_id=member2.id).status_code == 403


def test_admin_of_several_services_must_choose(client: httpx.Client, factory: Factory) -> None:
    admin, member, first = _service_with_member(factory)
    second = factory.service("Second", admin=admin)
    factory.subscribe(second, member)
    ambiguous = _create(client, admin, user_id=member.id)
    assert ambiguous.status_code == 400 and error_code(ambiguous) == "invalid_request"
    assert "service_id" in ambiguous.json()["error"]["fields"]
    chosen = create_token(client, admin, GRANTS, user_id=member.id, service_id=second)
    assert chosen["service_id"] == second
    # A service the caller does not administer (though the member is in it) is refused.
    foreign_admin = factory.user()
    foreign = factory.service("Foreign", admin=foreign_admin)
    factory.subscribe(foreign, member)
    refused = _create(client, admin, user_id=member.id, service_id=foreign)
    assert refused.status_code == 403
    assert first != second


def test_sandbox_and_inactive_users_cannot_hold_tokens(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    admin, member, service_id = _service_with_member(factory)
    with db.session() as s:
        sandbox = User(email=f"sandbox-{uuid.uuid4().hex[:8]}@example.com", is_active=True,
                       sandbox_service_id=service_id)  # fmt: skip
        s.add(sandbox)
        s.flush()
        s.add(ServiceSubscription(service_id=service_id, user_id=sandbox.id, is_active=True))
        sandbox_id = sandbox.id
    response = _create(client, admin, user_id=sandbox_id)
    assert response.status_code == 400, response.text
    assert "user_id" in response.json()["error"]["fields"]

    with db.session() as s:
        s.execute(update(User).where(User.id == member.id).values(is_active=False))
    inactive = _create(client, admin, user_id=member.id)
    assert inactive.status_code == 400 and "user_id" in inactive.json()["error"]["fields"]
    assert client.get(BASE, headers=admin.headers).json()["meta_data"]["count"] == 0


def test_narrowing_ones_own_token_needs_a_subscription(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    service_id = factory.service("Narrow")
    refused = _create(client, ann, service_id=service_id)
    assert refused.status_code == 400 and "service_id" in refused.json()["error"]["fields"]
    factory.subscribe(service_id, ann)
    narrowed = create_token(client, ann, GRANTS, service_id=service_id, user_id=ann.id)
    assert narrowed["service_id"] == service_id and narrowed["user_id"] == ann.id


def test_strangers_neither_see_nor_revoke(client: httpx.Client, factory: Factory) -> None:
    admin, member, _service_id = _service_with_member(factory)
    created = create_token(client, admin, GRANTS, user_id=member.id)
    stranger = factory.user()
    path = f"{BASE}{created['id']}/"
    assert client.get(BASE, headers=stranger.headers).json()["data"] == []
    for method in ("GET", "DELETE"):
        response = client.request(method, path, headers=stranger.headers)
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert client.get(f"{BASE}not-an-id/", headers=admin.headers).status_code == 404
    assert client.get(path, headers=admin.headers).status_code == 200
