"""What the subscriber of an event invitation may change of it themselves (SPEC §4; the rules
are `c42.access.subscriptions`): answer it (attending accepts invited_* -> subscribed_*) and
leave it; changing its permission or message is the sharer's, so a subscriber who only reads
the event can do neither, and one who writes may set only what a sharer may grant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory, create, event
from tests.resources.checks import assert_error

CASES = [
    # (permission granted, PATCH body, status, permission afterwards)
    pytest.param("invited_read", {"permission": "removed"}, 200, "removed", id="read-leaves"),
    pytest.param(
        "invited_read", {"rsvp_status": "not_attending"}, 200, "invited_read", id="read-declines"
    ),
    pytest.param(
        "invited_read", {"rsvp_status": "attending"}, 200, "subscribed_read", id="read-attends"
    ),
    pytest.param("invited_read", {}, 200, "invited_read", id="read-empty-change"),
    pytest.param(
        "invited_read",
        {"permission": "subscribed_read"},
        403,
        "invited_read",
        id="read-self-accepts",
    ),
    pytest.param(
        "invited_read",
        {"permission": "invited_write"},
        403,
        "invited_read",
        id="read-self-escalates",
    ),
    pytest.param(
        "invited_read",
        {"permission": "subscribed_write"},
        403,
        "invited_read",
        id="read-self-escalates-more",
    ),
    pytest.param("invited_read", {"message": "hi"}, 403, "invited_read", id="read-sets-message"),
    pytest.param(
        "invited_read",
        {"permission": "removed", "message": "bye"},
        403,
        "invited_read",
        id="read-leaves-with-message",
    ),
    pytest.param(
        "invited_write",
        {"permission": "subscribed_write"},
        400,
        "invited_write",
        id="write-self-accepts",
    ),
    pytest.param(
        "invited_write", {"permission": "invited_read"}, 200, "invited_read", id="write-lowers-own"
    ),
    pytest.param("invited_write", {"message": "hi"}, 200, "invited_write", id="write-sets-message"),
    pytest.param(
        "invited_write", {"rsvp_status": "attending"}, 200, "subscribed_write", id="write-attends"
    ),
]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(("granted", "body", "status", "after"), CASES)
def test_what_an_event_subscriber_may_change(
    client: httpx.Client,
    factory: Factory,
    method: str,
    granted: str,
    body: dict[str, Any],
    status: int,
    after: str,
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    invitation = {"event_id": ev["id"], "subscriber": {"user_id": bob.id}, "permission": granted}
    sub = create(client, ann, "/api/v2/event-subscriptions/", {**invitation, "message": "m"})
    path = f"/api/v2/event-subscriptions/{sub['id']}/"

    response = client.request(method, path, json=body, headers=bob.headers)

    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, status)
    seen = client.get("/api/v2/event-subscriptions/", headers=ann.headers, params={"sync_token": 0})
    mine = {s["id"]: s for s in seen.json()["data"]}[sub["id"]]
    assert mine["permission"] == after
    if after != "removed":
        changed = status == 200 and "message" in body
        assert mine["message"] == (body["message"] if changed else "m")


@pytest.mark.parametrize("granted", ["invited_read", "invited_write"])
def test_the_subscriber_may_always_delete_their_subscription(
    client: httpx.Client, factory: Factory, granted: str
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    invitation = {"event_id": ev["id"], "subscriber": {"user_id": bob.id}, "permission": granted}
    sub = create(client, ann, "/api/v2/event-subscriptions/", invitation)

    left = client.delete(f"/api/v2/event-subscriptions/{sub['id']}/", headers=bob.headers)

    assert left.status_code == 204, left.text
    assert client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers).status_code == 404
