"""Permission rules from relationships, over HTTP (SPEC §4 "Permissions from relationships")."""

from __future__ import annotations

import httpx

from tests.factories import Factory, calendar, event, share_calendar


def test_creator_sees_event_with_subscribed_write(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    created = event(client, ann)
    assert created["permission"] == "subscribed_write"
    got = client.get(f"/api/v2/events/{created['id']}/", headers=ann.headers)
    assert got.status_code == 200
    assert got.json()["data"][0]["title"] == "Meeting"


def test_stranger_gets_404_for_event_calendar_and_subscription(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    subs = client.get(
        "/api/v2/event-subscriptions/", params={"event_ids": f"[{ev['id']}]"}, headers=ann.headers
    ).json()["data"]
    assert len(subs) == 1
    for path in (
        f"/api/v2/events/{ev['id']}/",
        f"/api/v2/calendars/{cal['id']}/",
        f"/api/v2/event-subscriptions/{subs[0]['id']}/",
    ):
        response = client.get(path, headers=bob.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    listing = client.get("/api/v2/events/", headers=bob.headers).json()
    assert ev["id"] not in [e["id"] for e in listing["data"]]
    assert (
        client.patch(
            f"/api/v2/events/{ev['id']}/", json={"title": "x"}, headers=bob.headers
        ).status_code
        == 404
    )


def test_calendar_permission_gives_best_of_calendars(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    read_cal, write_cal = calendar(client, ann, "read"), calendar(client, ann, "write")
    ev = event(client, ann, [read_cal["id"], write_cal["id"]])
    share_calendar(client, ann, read_cal["id"], bob, "invited_read")
    got = client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers)
    assert got.json()["data"][0]["permission"] == "invited_read"
    assert (
        client.patch(
            f"/api/v2/events/{ev['id']}/", json={"title": "x"}, headers=bob.headers
        ).status_code
        == 403
    )
    share_calendar(client, ann, write_cal["id"], bob, "invited_write")
    got = client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers)
    assert got.json()["data"][0]["permission"] == "invited_write"
    changed = client.patch(f"/api/v2/events/{ev['id']}/", json={"title": "x"}, headers=bob.headers)
    assert changed.status_code == 200
    assert changed.json()["data"][0]["title"] == "x"


def test_direct_subscription_overrules_calendar(client: httpx.Client, factory: Factory) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    share_calendar(client, ann, cal["id"], bob, "invited_write")
    invited = client.post(
        "/api/v2/event-subscriptions/",
        json={
            "event_id": ev["id"],
            "subscriber": {"user_id": bob.id},
            "permission": "invited_read",
        },
        headers=ann.headers,
    )
    assert invited.status_code == 201, invited.text
    got = client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers).json()["data"][0]
    assert got["permission"] == "invited_read"  # direct read beats the calendar's write
    assert client.delete(f"/api/v2/events/{ev['id']}/", headers=bob.headers).status_code == 403


def test_removed_direct_subscription_hides_event(client: httpx.Client, factory: Factory) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    share_calendar(client, ann, cal["id"], bob, "invited_read")
    sub = client.post(
        "/api/v2/event-subscriptions/",
        json={
            "event_id": ev["id"],
            "subscriber": {"user_id": bob.id},
            "permission": "invited_read",
        },
        headers=ann.headers,
    ).json()["data"][0]
    removed = client.patch(
        f"/api/v2/event-subscriptions/{sub['id']}/",
        json={"permission": "removed"},
        headers=ann.headers,
    )
    assert removed.status_code == 200, removed.text
    assert client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers).status_code == 404


def test_writing_into_a_read_only_calendar_is_refused(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    share_calendar(client, ann, cal["id"], bob, "invited_read")
    response = client.post(
        "/api/v2/events/",
        json={"event_type": "todo", "title": "x", "calendar_ids": [cal["id"]]},
        headers=bob.headers,
    )
    assert response.status_code == 403
    assert client.get("/api/v2/events/", headers=bob.headers).json()["meta_data"]["count"] == 0


def test_invite_needs_write_and_grants_only_invited(client: httpx.Client, factory: Factory) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    ev = event(client, ann)
    body = {
        "event_id": ev["id"],
        "subscriber": {"user_id": bob.id},
        "permission": "subscribed_write",
    }
    escalated = client.post("/api/v2/event-subscriptions/", json=body, headers=ann.headers)
    assert escalated.status_code == 400
    body["permission"] = "invited_read"
    assert (
        client.post("/api/v2/event-subscriptions/", json=body, headers=ann.headers).status_code
        == 201
    )
    # bob only reads: he may not invite cyd
    body = {"event_id": ev["id"], "subscriber": {"user_id": cyd.id}, "permission": "invited_read"}
    assert (
        client.post("/api/v2/event-subscriptions/", json=body, headers=bob.headers).status_code
        == 403
    )


def test_rsvp_attending_turns_invited_into_subscribed(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    sub = client.post(
        "/api/v2/event-subscriptions/",
        json={
            "event_id": ev["id"],
            "subscriber": {"email": bob.email},
            "permission": "invited_write",
        },
        headers=ann.headers,
    ).json()["data"][0]
    assert sub["subscriber"]["user_id"] == bob.id
    assert (
        client.patch(
            f"/api/v2/event-subscriptions/{sub['id']}/",
            json={"rsvp_status": "attending"},
            headers=ann.headers,
        ).status_code
        == 403
    )  # only the subscriber answers
    answered = client.patch(
        f"/api/v2/event-subscriptions/{sub['id']}/",
        json={"rsvp_status": "attending"},
        headers=bob.headers,
    )
    assert answered.status_code == 200, answered.text
    data = answered.json()["data"][0]
    assert (data["rsvp_status"], data["permission"]) == ("attending", "subscribed_write")
    ev_for_bob = client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers).json()["data"][0]
    assert ev_for_bob["rsvp_status"] == "attending"
