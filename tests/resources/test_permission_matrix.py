"""The permission matrix over HTTP (SPEC §4 "Permissions from relationships"): every permission
value x every action, for events reached through a calendar and through a direct event
subscription, and for calendars; the calendar-share accept flow; and strangers, who get 404
for everything of others' — also in lists and through filters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory, Person, calendar, create, event, share_calendar
from tests.resources.checks import assert_error

PERMISSIONS = ["invited_read", "subscribed_read", "invited_write", "subscribed_write", "removed"]
ACTIONS = ["read", "write", "delete", "share"]
# expected status per (permission, action); 404 never reveals the object exists
EXPECTED = {
    "read": {"read": 200, "write": 200, "removed": 404},
    "write": {"read": 403, "write": 200, "removed": 404},
    "delete": {"read": 403, "write": 204, "removed": 404},
    "share": {"read": 403, "write": 201, "removed": 404},
}


def _expected(permission: str, action: str) -> int:
    kind = "removed" if permission == "removed" else permission.split("_")[1]
    return EXPECTED[action][kind]


def _grant_via_calendar(
    client: httpx.Client, ann: Person, bob: Person, event_calendar: str, permission: str
) -> None:
    invited = "invited_write" if "write" in permission else "invited_read"
    share = share_calendar(client, ann, event_calendar, bob, invited)
    path = f"/api/v2/calendar-subscriptions/{share['id']}/"
    if permission.startswith("subscribed"):
        accepted = client.patch(path, json={"permission": permission}, headers=bob.headers)
        assert accepted.status_code == 200, accepted.text
    elif permission == "removed":
        removed = client.patch(path, json={"permission": "removed"}, headers=ann.headers)
        assert removed.status_code == 200, removed.text


def _grant_direct(
    client: httpx.Client, ann: Person, bob: Person, event_id: str, permission: str
) -> None:
    invited = "invited_write" if "write" in permission else "invited_read"
    sub = create(
        client,
        ann,
        "/api/v2/event-subscriptions/",
        {"event_id": event_id, "subscriber": {"user_id": bob.id}, "permission": invited},
    )
    path = f"/api/v2/event-subscriptions/{sub['id']}/"
    if permission.startswith("subscribed"):
        answered = client.patch(path, json={"rsvp_status": "attending"}, headers=bob.headers)
        assert answered.status_code == 200, answered.text
        assert answered.json()["data"][0]["permission"] == permission
    elif permission == "removed":
        removed = client.patch(path, json={"permission": "removed"}, headers=ann.headers)
        assert removed.status_code == 200, removed.text


def _act(
    client: httpx.Client, bob: Person, cyd: Person, event_id: str, action: str
) -> httpx.Response:
    path = f"/api/v2/events/{event_id}/"
    if action == "read":
        return client.get(path, headers=bob.headers)
    if action == "write":
        return client.patch(path, json={"title": "changed by bob"}, headers=bob.headers)
    if action == "delete":
        return client.delete(path, headers=bob.headers)
    return client.post(
        "/api/v2/event-subscriptions/",
        json={"event_id": event_id, "subscriber": {"user_id": cyd.id}},
        headers=bob.headers,
    )


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("permission", PERMISSIONS)
@pytest.mark.parametrize("relation", ["calendar", "direct"])
def test_event_permission_matrix(
    client: httpx.Client, factory: Factory, relation: str, permission: str, action: str
) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    if relation == "calendar":
        _grant_via_calendar(client, ann, bob, cal["id"], permission)
    else:
        _grant_direct(client, ann, bob, ev["id"], permission)
    expected = _expected(permission, action)

    response = _act(client, bob, cyd, ev["id"], action)

    assert response.status_code == expected, response.text
    if expected >= 400:
        assert_error(response, expected, "not_found" if expected == 404 else "forbidden")
    owner_view = client.get(f"/api/v2/events/{ev['id']}/", headers=ann.headers)
    if action == "delete" and expected == 204:
        assert owner_view.status_code == 404
        return
    assert owner_view.status_code == 200
    title = owner_view.json()["data"][0]["title"]
    assert title == ("changed by bob" if action == "write" and expected == 200 else "Meeting")
    if action == "read" and expected == 200:
        got = response.json()["data"][0]
        assert got["permission"] == permission
        listed = client.get("/api/v2/events/", headers=bob.headers).json()["data"]
        assert [e["id"] for e in listed] == [ev["id"]]
    if action == "read" and expected == 404:
        listed = client.get("/api/v2/events/", headers=bob.headers).json()
        assert listed["meta_data"]["count"] == 0
    invited = client.get(
        "/api/v2/event-subscriptions/",
        params={"subscriber_ids": f"[{cyd.id}]", "event_ids": f"[{ev['id']}]"},
        headers=ann.headers,
    ).json()["data"]
    assert len(invited) == (1 if action == "share" and expected == 201 else 0)
    if invited:
        assert invited[0]["permission"] == "invited_read"


def _act_on_calendar(
    client: httpx.Client, bob: Person, cyd: Person, calendar_id: str, action: str
) -> httpx.Response:
    path = f"/api/v2/calendars/{calendar_id}/"
    if action == "read":
        return client.get(path, headers=bob.headers)
    if action == "write":
        return client.patch(path, json={"name": "renamed by bob"}, headers=bob.headers)
    if action == "delete":
        return client.delete(path, headers=bob.headers)
    if action == "add-event":
        return client.post(
            "/api/v2/events/",
            json={"event_type": "todo", "title": "bob's", "calendar_ids": [calendar_id]},
            headers=bob.headers,
        )
    return client.post(
        "/api/v2/calendar-subscriptions/",
        json={"calendar_id": calendar_id, "subscriber": {"user_id": cyd.id}},
        headers=bob.headers,
    )


@pytest.mark.parametrize("action", [*ACTIONS, "add-event"])
@pytest.mark.parametrize("permission", PERMISSIONS)
def test_calendar_permission_matrix(
    client: httpx.Client, factory: Factory, permission: str, action: str
) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    _grant_via_calendar(client, ann, bob, cal["id"], permission)
    expected = _expected(permission, "write" if action == "add-event" else action)
    if action == "add-event" and expected == 200:
        expected = 201

    response = _act_on_calendar(client, bob, cyd, cal["id"], action)

    assert response.status_code == expected, response.text
    if expected >= 400:
        assert_error(response, expected)
    if action == "read" and expected == 200:
        assert response.json()["data"][0]["permission"] == permission
    after = client.get(f"/api/v2/calendars/{cal['id']}/", headers=ann.headers)
    if action == "delete" and expected == 204:
        assert after.status_code == 404
        return
    assert after.json()["data"][0]["name"] == (
        "renamed by bob" if action == "write" and expected == 200 else "Cal"
    )
    shared_with_cyd = client.get("/api/v2/calendars/", headers=cyd.headers).json()["data"]
    assert len(shared_with_cyd) == (1 if action == "share" and expected == 201 else 0)
    bob_events = client.get("/api/v2/events/", headers=bob.headers).json()["data"]
    assert len(bob_events) == (1 if action == "add-event" and expected == 201 else 0)


# --- the calendar-share accept flow ----------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "wanted", "status"),
    [
        ("invited_read", "subscribed_read", 200),
        ("invited_write", "subscribed_write", 200),
        ("invited_read", "subscribed_write", 403),  # no escalation by accepting
        ("invited_read", "invited_write", 403),
        ("invited_write", "subscribed_read", 403),
        ("invited_read", "removed", 200),  # leaving is always allowed
        ("invited_write", "removed", 200),
    ],
)
def test_subscriber_accepts_only_what_was_offered(
    client: httpx.Client, factory: Factory, granted: str, wanted: str, status: int
) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    share = share_calendar(client, ann, cal["id"], bob, granted)
    path = f"/api/v2/calendar-subscriptions/{share['id']}/"
    response = client.patch(path, json={"permission": wanted}, headers=bob.headers)
    assert response.status_code == status, response.text
    now = client.get(path, headers=ann.headers).json()["data"][0]["permission"]
    assert now == (wanted if status == 200 else granted)
    if status == 200:
        assert response.json()["data"][0]["previous_permission"] == granted


@pytest.mark.parametrize("wanted", ["subscribed_read", "subscribed_write"])
def test_only_the_subscriber_accepts(client: httpx.Client, factory: Factory, wanted: str) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    share = share_calendar(client, ann, cal["id"], bob, "invited_write")
    share_calendar(client, ann, cal["id"], cyd, "invited_write")
    path = f"/api/v2/calendar-subscriptions/{share['id']}/"
    by_owner = client.patch(path, json={"permission": wanted}, headers=ann.headers)
    assert_error(by_owner, 400, "invalid_request")
    by_other_writer = client.patch(path, json={"permission": wanted}, headers=cyd.headers)
    assert_error(by_other_writer, 400)
    assert client.get(path, headers=ann.headers).json()["data"][0]["permission"] == "invited_write"


def test_a_second_accept_is_refused(client: httpx.Client, factory: Factory) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    share = share_calendar(client, ann, cal["id"], bob, "invited_read")
    path = f"/api/v2/calendar-subscriptions/{share['id']}/"
    ok = client.patch(path, json={"permission": "subscribed_read"}, headers=bob.headers)
    assert ok.status_code == 200
    again = client.patch(path, json={"permission": "subscribed_read"}, headers=bob.headers)
    assert_error(again, 403)


def test_reader_cannot_change_or_remove_other_shares(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    share_calendar(client, ann, cal["id"], bob, "invited_read")
    cyd_share = share_calendar(client, ann, cal["id"], cyd, "invited_read")
    path = f"/api/v2/calendar-subscriptions/{cyd_share['id']}/"
    assert_error(client.patch(path, json={"permission": "removed"}, headers=bob.headers), 403)
    assert_error(client.delete(path, headers=bob.headers), 403)
    assert client.get(path, headers=ann.headers).json()["data"][0]["permission"] == "invited_read"


def test_reader_cannot_change_others_event_subscriptions(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    ev = event(client, ann)
    body: dict[str, Any] = {"event_id": ev["id"], "subscriber": {"user_id": bob.id}}
    create(client, ann, "/api/v2/event-subscriptions/", body)
    cyd_sub = create(
        client, ann, "/api/v2/event-subscriptions/", {**body, "subscriber": {"user_id": cyd.id}}
    )
    path = f"/api/v2/event-subscriptions/{cyd_sub['id']}/"
    for attempt in (
        client.patch(path, json={"permission": "invited_write"}, headers=bob.headers),
        client.patch(path, json={"message": "hi"}, headers=bob.headers),
        client.patch(path, json={"rsvp_status": "attending"}, headers=bob.headers),
        client.delete(path, headers=bob.headers),
    ):
        assert_error(attempt, 403)
    unchanged = client.get(path, headers=ann.headers).json()["data"][0]
    assert (unchanged["permission"], unchanged["rsvp_status"]) == ("invited_read", "not_replied")


# --- strangers -------------------------------------------------------------------------------


def test_stranger_sees_nothing_anywhere(client: httpx.Client, factory: Factory) -> None:
    """Eve relates to nothing of ann's: every object is a 404 (GET, PATCH, PUT, DELETE), lists
    are empty, and naming ann's ids in filters finds nothing."""
    ann, bob, eve = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    esub = create(
        client,
        ann,
        "/api/v2/event-subscriptions/",
        {"event_id": ev["id"], "subscriber": {"user_id": bob.id}},
    )
    csub = share_calendar(client, ann, cal["id"], bob, "invited_write")
    objects = {
        f"/api/v2/events/{ev['id']}/": ("GET", "PUT", "PATCH", "DELETE"),
        f"/api/v2/calendars/{cal['id']}/": ("GET", "PATCH", "DELETE"),
        f"/api/v2/event-subscriptions/{esub['id']}/": ("GET", "PUT", "PATCH", "DELETE"),
        f"/api/v2/calendar-subscriptions/{csub['id']}/": ("GET", "PATCH", "DELETE"),
    }
    bodies = {
        "events": {"event_type": "todo", "title": "eve"},
        "calendars": {"name": "eve"},
        "event-subscriptions": {"rsvp_status": "attending"},
        "calendar-subscriptions": {"permission": "removed"},
    }
    for path, methods in objects.items():
        for method in methods:
            body = bodies[path.split("/")[3]] if method in ("PUT", "PATCH") else None
            response = client.request(method, path, json=body, headers=eve.headers)
            assert_error(response, 404, "not_found")
    # sharing or inviting through ann's objects: as if they did not exist
    assert_error(
        client.post(
            "/api/v2/event-subscriptions/",
            json={"event_id": ev["id"], "subscriber": {"user_id": eve.id}},
            headers=eve.headers,
        ),
        404,
    )
    assert_error(
        client.post(
            "/api/v2/calendar-subscriptions/",
            json={"calendar_id": cal["id"], "subscriber": {"user_id": eve.id}},
            headers=eve.headers,
        ),
        404,
    )
    assert_error(
        client.post(
            "/api/v2/events/",
            json={"event_type": "todo", "title": "x", "calendar_ids": [cal["id"]]},
            headers=eve.headers,
        ),
        404,
    )
    filters = {
        "/api/v2/events/": [
            {"ids": f"[{ev['id']}]"},
            {"calendar_ids": f"[{cal['id']}]"},
            {"calendar_ids__or": f"[{cal['id']}]"},
            {},
        ],
        "/api/v2/calendars/": [{"ids": f"[{cal['id']}]"}, {}],
        "/api/v2/event-subscriptions/": [
            {"event_ids": f"[{ev['id']}]"},
            {"subscriber_ids": f"[{bob.id}]"},
            {"subscriber_ids": f"[{ann.id}]"},
            {},
        ],
        "/api/v2/calendar-subscriptions/": [
            {"calendar_ids": f"[{cal['id']}]"},
            {"subscriber_ids": f"[{bob.id}]"},
            {},
        ],
    }
    for path, cases in filters.items():
        for params in cases:
            for sync in ({}, {"sync_token": 0}):
                body = client.get(path, params={**params, **sync}, headers=eve.headers).json()
                assert body["meta_data"]["count"] == 0, (path, params, sync, body)
                assert body["data"] == []
    # nothing of it changed
    owner = client.get(f"/api/v2/events/{ev['id']}/", headers=ann.headers).json()["data"][0]
    assert owner["title"] == "Meeting"
    assert client.get(f"/api/v2/calendars/{cal['id']}/", headers=ann.headers).status_code == 200


def test_a_sharee_does_not_see_the_owners_other_objects(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    shared, private = calendar(client, ann, "shared"), calendar(client, ann, "private")
    in_shared = event(client, ann, [shared["id"]])
    in_private = event(client, ann, [private["id"]])
    in_both = event(client, ann, [shared["id"], private["id"]])
    share_calendar(client, ann, shared["id"], bob, "invited_read")
    listed = client.get("/api/v2/events/", headers=bob.headers).json()["data"]
    assert {e["id"] for e in listed} == {in_shared["id"], in_both["id"]}
    both = next(e for e in listed if e["id"] == in_both["id"])
    assert both["calendar_ids"] == [shared["id"]]  # requester-relative: not the private one
    assert_error(client.get(f"/api/v2/events/{in_private['id']}/", headers=bob.headers), 404)
    filtered = client.get(
        "/api/v2/events/", params={"calendar_ids": f"[{private['id']}]"}, headers=bob.headers
    ).json()
    assert filtered["meta_data"]["count"] == 0
    calendars = client.get("/api/v2/calendars/", headers=bob.headers).json()["data"]
    assert [c["id"] for c in calendars] == [shared["id"]]
    # bob sees the shared calendar's subscriptions, not the private one's
    subs = client.get("/api/v2/calendar-subscriptions/", headers=bob.headers).json()["data"]
    assert {s["calendar_id"] for s in subs} == {shared["id"]}
