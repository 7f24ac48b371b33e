"""Plain factory functions that write through the project's own code paths."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from c42 import accounts
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.settings import Settings


@dataclass
class Person:
    id: str
    email: str
    token: str
    password: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


class Factory:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def user(
        self, *, password: str | None = None, active: bool = True, prefix: str = "user", **kw: Any
    ) -> Person:
        email = unique_email(prefix)
        with self.db.session() as s:
            user = accounts.create_user(s, email, password, active=True, **kw)
            created = user_tokens.create(s, user.id, "test")
            if not active:
                user.is_active = False
            person = Person(user.id, user.email, created.token, password)
        person.headers = {"Authorization": f"Token {person.token}"}
        return person

    def service(self, name: str = "Service", admin: Person | None = None) -> str:
        with self.db.session() as s:
            admin_user = accounts.get_user(s, admin.email) if admin else None
            return accounts.create_service(s, name, admin_user).id

    def subscribe(self, service_id: str, person: Person, *, active: bool = True) -> None:
        with self.db.session() as s:
            accounts.subscribe(s, service_id, accounts.get_user(s, person.email), active=active)


def create(client: httpx.Client, person: Person, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST through the API and return the created object (asserting a 201)."""
    response = client.post(path, json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"][0]
    return data


def calendar(client: httpx.Client, person: Person, name: str = "Cal") -> dict[str, Any]:
    return create(client, person, "/api/v2/calendars/", {"name": name})


def event(
    client: httpx.Client, person: Person, calendar_ids: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "normal",
        "title": "Meeting",
        "start": "2027-01-10T09:00:00Z",
        "end": "2027-01-10T10:00:00Z",
        "start_timezone": "Europe/Amsterdam",
        "end_timezone": "Europe/Amsterdam",
        **fields,
    }
    if calendar_ids is not None:
        body["calendar_ids"] = calendar_ids
    return create(client, person, "/api/v2/events/", body)


def share_calendar(
    client: httpx.Client, owner: Person, calendar_id: str, other: Person, permission: str
) -> dict[str, Any]:
    return create(
        client,
        owner,
        "/api/v2/calendar-subscriptions/",
        {"calendar_id": calendar_id, "subscriber": {"user_id": other.id}, "permission": permission},
    )
