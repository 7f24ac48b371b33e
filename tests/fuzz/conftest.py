"""Fixtures of the fuzzing pass: people and one credential of each kind (a User Token, an
Action Token, an OAuth Bearer token) shared by the package's tests, and fresh objects for
each test (a fuzzed DELETE or PATCH must not change what the next test starts from).

The people cost an argon2 hash and a login, so they are made once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from c42.db import Database
from c42.settings import Settings
from tests.action_tokens.helpers import create_token, grant
from tests.conftest import LiveServer
from tests.factories import Factory, Person, calendar, create, event, share_calendar
from tests.oauth.helpers import App, access_token_for, make_app, person_with_password

EVENT_BODY: dict[str, Any] = {
    "event_type": "normal",
    "title": "Fuzzed",
    "start": "2027-02-01T09:00:00Z",
    "end": "2027-02-01T10:00:00Z",
    "start_timezone": "Europe/Amsterdam",
    "end_timezone": "Europe/Amsterdam",
}


@dataclass(frozen=True)
class People:
    owner: Person
    friend: Person
    service_id: str
    app: App
    credentials: dict[str, dict[str, str]]  # credential kind -> request headers


@dataclass(frozen=True)
class FuzzWorld:
    people: People
    ids: dict[str, list[str]]  # collection path -> ids of real objects in it
    valid_bodies: dict[str, dict[str, Any]]  # "METHOD path" -> a body the API accepts


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hypothesis' caches (no example database: see bounds.py) go to this run's temporary
    directory, not into the work tree."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))


@pytest.fixture(scope="session")
def fuzz_people(server: LiveServer, db: Database, settings: Settings) -> People:
    factory = Factory(db, settings)
    owner = person_with_password(factory)
    friend = factory.user(prefix="fuzz-friend")
    service_id = factory.service("Fuzz service", admin=owner)
    factory.subscribe(service_id, owner)
    factory.subscribe(service_id, friend)
    app = make_app(db, settings, service_id)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        action = create_token(
            client,
            owner,
            [
                grant("GET", "/api/v2/events/"),
                grant("GET", "/api/v2/events/{id}/"),
                grant("PATCH", "/api/v2/events/{id}/"),
                grant("GET", "/api/v2/calendars/"),
                grant("POST", "/api/v2/calendars/"),
            ],
        )
        bearer = access_token_for(server.url, client, app, owner)
    return People(
        owner=owner,
        friend=friend,
        service_id=service_id,
        app=app,
        credentials={
            "user": owner.headers,
            "action": {"Authorization": f"ActionToken {action['token']}"},
            "bearer": {"Authorization": f"Bearer {bearer}"},
            "none": {},
        },
    )


@pytest.fixture
def fuzz_world(server: LiveServer, fuzz_people: People) -> Iterator[FuzzWorld]:
    """A calendar shared with the friend, an event in it with an invitation, a calendar made
    through the OAuth app (so the Bearer token reaches something), a spare Action Token."""
    owner, friend = fuzz_people.owner, fuzz_people.friend
    with httpx.Client(base_url=server.url, timeout=30) as client:
        cal = calendar(client, owner, "Fuzz")
        ev = event(client, owner, [cal["id"]])
        csub = share_calendar(client, owner, cal["id"], friend, "invited_write")
        esub = create(
            client,
            owner,
            "/api/v2/event-subscriptions/",
            {"event_id": ev["id"], "subscriber": {"user_id": friend.id}},
        )
        bearer = Person(owner.id, owner.email, "", headers=fuzz_people.credentials["bearer"])
        in_service = calendar(client, bearer, "In the app's service")
        spare = create_token(client, owner, [grant("GET", "/api/v2/events/")])
    yield FuzzWorld(
        people=fuzz_people,
        ids={
            "/api/v2/events/": [ev["id"]],
            "/api/v2/calendars/": [cal["id"], in_service["id"]],
            "/api/v2/event-subscriptions/": [esub["id"]],
            "/api/v2/calendar-subscriptions/": [csub["id"]],
            "/api/v2/services/": [fuzz_people.service_id],
            "/api/v2/action-tokens/": [spare["id"]],
        },
        valid_bodies={
            "POST /api/v2/events/": {**EVENT_BODY, "calendar_ids": [cal["id"]]},
            "PUT /api/v2/events/{id}/": EVENT_BODY,
            "PATCH /api/v2/events/{id}/": {"title": "Renamed"},
            "POST /api/v2/calendars/": {"name": "Fuzzed"},
            "PATCH /api/v2/calendars/{id}/": {"name": "Renamed"},
            "POST /api/v2/event-subscriptions/": {
                "event_id": ev["id"],
                "subscriber": {"email": "fuzz-invitee@example.com"},
                "permission": "invited_read",
            },
            "PATCH /api/v2/event-subscriptions/{id}/": {"rsvp_status": "attending"},
            "POST /api/v2/calendar-subscriptions/": {
                "calendar_id": cal["id"],
                "subscriber": {"email": "fuzz-invitee@example.com"},
                "permission": "invited_read",
            },
            "PATCH /api/v2/calendar-subscriptions/{id}/": {"permission": "subscribed_read"},
            "POST /api/v2/action-tokens/": {"grants": [grant("GET", "/api/v2/events/{id}/")]},
        },
    )
