"""End to end: the RSVP link of SPEC §5.2's typical use. A service admin invites a member to an
event of the service and mails them an Action Token pinned to their event subscription; the
member answers through it without logging in."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from c42.db import Database
from c42.models import Event
from tests.action_tokens.helpers import BASE, ESUB, EVENT, EVENTS, action, create_token, grant
from tests.factories import Factory


def test_member_answers_an_invitation_through_an_rsvp_link(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    admin, member = factory.user(prefix="admin"), factory.user(prefix="member")
    service_id = factory.service("Tennis club", admin=admin)
    factory.subscribe(service_id, member)

    # The club's server works with the admin's token narrowed to the club: events it creates
    # belong to the service.
    club = create_token(
        client,
        admin,
        [grant("POST", EVENTS), grant("POST", "/api/v2/event-subscriptions/")],
        service_id=service_id,
        name="club server",
    )["token"]
    created = client.post(
        EVENTS,
        json={
            "event_type": "normal",
            "title": "Club tournament",
            "start": "2027-05-01T09:00:00Z",
            "end": "2027-05-01T17:00:00Z",
            "start_timezone": "Europe/Amsterdam",
            "end_timezone": "Europe/Amsterdam",
        },
        headers=action(club),
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["data"][0]["id"]
    with db.session(write=False) as s:
        assert s.scalar(select(Event.service_id).where(Event.id == event_id)) == service_id
    invited = client.post(
        "/api/v2/event-subscriptions/",
        json={
            "event_id": event_id,
            "subscriber": {"user_id": member.id},
            "permission": "invited_read",
            "is_invitation": True,
            "message": "Join us!",
        },
        headers=action(club),
    )
    assert invited.status_code == 201, invited.text
    subscription_id = invited.json()["data"][0]["id"]

    # The RSVP link: an Action Token for the member, pinned to this subscription and event.
    link = create_token(
        client,
        admin,
        [
            grant("PATCH", ESUB, id=subscription_id),
            grant("GET", EVENT, id=event_id),
        ],
        user_id=member.id,
        expires_in=604800,
        max_uses=5,
        name="rsvp link",
    )
    assert link["user_id"] == member.id and link["service_id"] == service_id
    headers = action(link["token"])

    shown = client.get(f"/api/v2/events/{event_id}/", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"][0]["title"] == "Club tournament"
    assert shown.json()["data"][0]["permission"] == "invited_read"

    answered = client.patch(
        f"/api/v2/event-subscriptions/{subscription_id}/",
        json={"rsvp_status": "attending"},
        headers=headers,
    )
    assert answered.status_code == 200, answered.text
    answer = answered.json()["data"][0]
    assert answer["rsvp_status"] == "attending"
    assert answer["permission"] == "subscribed_read"  # SPEC §4: attending accepts the invite

    # The admin sees the answer; the member's own view agrees.
    for person in (admin, member):
        seen = client.get(f"/api/v2/event-subscriptions/{subscription_id}/", headers=person.headers)
        assert seen.json()["data"][0]["rsvp_status"] == "attending"

    # The link does nothing else: not the event itself, not other invitations.
    for response in (
        client.patch(f"/api/v2/events/{event_id}/", json={"title": "x"}, headers=headers),
        client.get("/api/v2/event-subscriptions/", headers=headers),
        client.delete(f"/api/v2/event-subscriptions/{subscription_id}/", headers=headers),
    ):
        assert response.status_code == 403, response.text
    meta = client.get(f"{BASE}{link['id']}/", headers=admin.headers).json()["data"][0]
    assert meta["use_count"] == 2  # the GET and the PATCH; refusals are not uses
