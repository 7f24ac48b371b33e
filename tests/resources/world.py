"""A small module-scoped world for the table-driven tests: two users, a shared calendar, an
event in it, an invitation, and a User Token made with a password."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Factory, Person, calendar, event, share_calendar

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    owner: Person
    friend: Person
    calendar_id: str
    event_id: str
    event_subscription_id: str
    calendar_subscription_id: str
    service_id: str

    def path(self, template: str) -> str:
        return template.format(
            cal=self.calendar_id,
            event=self.event_id,
            esub=self.event_subscription_id,
            csub=self.calendar_subscription_id,
            service=self.service_id,
        )


def build_world(client: httpx.Client, factory: Factory) -> World:
    owner = factory.user(password=PASSWORD, prefix="owner")
    friend = factory.user(prefix="friend")
    cal = calendar(client, owner, "World")
    ev = event(client, owner, [cal["id"]])
    csub = share_calendar(client, owner, cal["id"], friend, "invited_read")
    invited = client.post(
        "/api/v2/event-subscriptions/",
        json={"event_id": ev["id"], "subscriber": {"user_id": friend.id}},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    service_id = factory.service("World service", admin=owner)
    return World(
        owner=owner,
        friend=friend,
        calendar_id=cal["id"],
        event_id=ev["id"],
        event_subscription_id=invited.json()["data"][0]["id"],
        calendar_subscription_id=csub["id"],
        service_id=service_id,
    )


def send_json(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> httpx.Response:
    """Send `body` as JSON text exactly as Python's json module writes it (ASCII escapes, so
    lone surrogates and NaN reach the server the way a careless client would send them)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.request(
        method, path, content=raw, headers={**headers, "Content-Type": "application/json"}
    )
