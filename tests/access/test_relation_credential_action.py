"""Relation x credential x action, from one table, against the real app over HTTP
(SPEC §4 "Permissions from relationships", §5.2-§5.4; STYLE §14).

Ann owns a calendar and an event in it, both made inside the service of an OAuth app (so
that the app's tokens may reach them). The actor stands in one relation to them and calls
with one credential; each row of TABLE is one (relation, credential) pair and gives the
expected answer of each action. Every row gets a fresh calendar and event, and the actions
run in the table's order (the deletes last).

Cells: `yes`/`no` the object is/is not in the actor's list; a status code; `403w` no write
permission (`forbidden`), `403s` `insufficient_scope`, `403g` `endpoint_not_allowed` (the
Action Token holds GET grants only), `403v` `service_verification_required` (a sandbox
shares nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.action_tokens.helpers import action, create_token, grant
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import App, access_token_for, bearer, make_app, person_with_password
from tests.silent import helpers as silent

ACTIONS = (
    "event.list",
    "event.read",
    "event.update",
    "event.share",
    "calendar.list",
    "calendar.read",
    "calendar.update",
    "calendar.share",
    "event.delete",
    "calendar.delete",
)
# relation          credential       event: list read update share | calendar: list read update
#                                    share | event delete | calendar delete
TABLE = """
none               user-token        no  404  404  404   no  404  404  404  404  404
none               action-token      no  404  403g 403g  no  404  403g 403g 403g 403g
none               bearer-read       no  404  403s 403s  no  404  403s 403s 403s 403s
none               bearer-write      no  404  404  404   no  404  404  404  404  404
none               sandbox           no  404  404  404   no  404  404  404  404  404
calendar-read      user-token        yes 200  403w 403w  yes 200  403w 403w 403w 403w
calendar-read      action-token      yes 200  403g 403g  yes 200  403g 403g 403g 403g
calendar-read      bearer-read       yes 200  403s 403s  yes 200  403s 403s 403s 403s
calendar-read      bearer-write      yes 200  403w 403w  yes 200  403w 403w 403w 403w
calendar-write     user-token        yes 200  200  201   yes 200  200  201  204  204
calendar-write     action-token      yes 200  403g 403g  yes 200  403g 403g 403g 403g
calendar-write     bearer-read       yes 200  403s 403s  yes 200  403s 403s 403s 403s
calendar-write     bearer-write      yes 200  200  201   yes 200  200  201  204  204
owner              user-token        yes 200  200  201   yes 200  200  201  204  204
owner              action-token      yes 200  403g 403g  yes 200  403g 403g 403g 403g
owner              bearer-read       yes 200  403s 403s  yes 200  403s 403s 403s 403s
owner              bearer-write      yes 200  200  201   yes 200  200  201  204  204
owner              sandbox           yes 200  200  403v  yes 200  200  403v 204  204
event-subscription user-token        yes 200  403w 403w  no  404  404  404  403w 404
event-subscription action-token      yes 200  403g 403g  no  404  403g 403g 403g 403g
event-subscription bearer-read       yes 200  403s 403s  no  404  403s 403s 403s 403s
event-subscription bearer-write      yes 200  403w 403w  no  404  404  404  403w 404
service-admin      user-token        no  404  404  404   no  404  404  404  404  404
service-admin      action-token      no  404  403g 403g  no  404  403g 403g 403g 403g
service-admin      bearer-read       no  404  403s 403s  no  404  403s 403s 403s 403s
service-admin      bearer-write      no  404  404  404   no  404  404  404  404  404
"""
_CODES = {
    "403w": (403, "forbidden"),
    "403s": (403, "insufficient_scope"),
    "403g": (403, "endpoint_not_allowed"),
    "403v": (403, "service_verification_required"),
}


def _rows() -> list[tuple[str, str, tuple[str, ...]]]:
    rows = []
    for line in TABLE.strip().splitlines():
        relation, credential, *cells = line.split()
        assert len(cells) == len(ACTIONS), line
        rows.append((relation, credential, tuple(cells)))
    return rows


ROWS = _rows()


@dataclass
class Actor:
    """One user and each credential they call with."""

    person: Person
    credentials: dict[str, dict[str, str]]  # credential name -> request headers


@dataclass
class Stage:
    """The module's users, app and tokens (expensive: logins and code flows, made once)."""

    server: LiveServer
    app: App
    ann: dict[str, str]  # Ann's Bearer (write) headers: she builds every row's objects
    actor: Actor
    admin: Actor  # administers the app's service
    sandbox: dict[str, str]  # a silent-OAuth sandbox user's Bearer headers
    sandbox_user_id: str
    cyd: Person  # whom the share actions share with


@pytest.fixture(scope="module")
def stage(server: LiveServer, db: Database, settings: Settings) -> Iterator[Stage]:
    factory = Factory(db, settings)
    ann, bob, admin, cyd = (person_with_password(factory) for _ in range(4))
    service_id = factory.service("Access table service", admin=admin)
    for person in (ann, bob, admin):
        factory.subscribe(service_id, person)
    app = make_app(db, settings, service_id)
    silent_app = silent.make_app(db, settings, service_id)
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def actor(person: Person) -> Actor:
            reader = access_token_for(server.url, client, app, person, "service.read")
            writer = access_token_for(server.url, client, app, person)
            reads = [
                grant("GET", route)
                for route in (
                    "/api/v2/events/",
                    "/api/v2/events/{id}/",
                    "/api/v2/calendars/",
                    "/api/v2/calendars/{id}/",
                )
            ]
            token = create_token(client, person, reads)["token"]
            return Actor(
                person,
                {
                    "user-token": person.headers,
                    "action-token": action(token),
                    "bearer-read": bearer(reader),
                    "bearer-write": bearer(writer),
                },
            )

        sandbox_address = silent.address("access")
        sandbox = silent.bearer(silent.sandbox_token(client, silent_app, sandbox_address))
        [sandbox_user] = silent.sandbox_users(db, sandbox_address)
        yield Stage(
            server=server,
            app=app,
            ann=bearer(access_token_for(server.url, client, app, ann)),
            actor=actor(bob),
            admin=actor(admin),
            sandbox=sandbox,
            sandbox_user_id=sandbox_user.id,
            cyd=cyd,
        )


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"][0]
    return data


def _make_objects(client: httpx.Client, owner: dict[str, str]) -> tuple[str, str]:
    """A calendar and an event in it, made inside the app's service by `owner`'s token."""
    calendar = _created(client.post("/api/v2/calendars/", json={"name": "Row"}, headers=owner))
    body = {
        "event_type": "normal",
        "title": "Row event",
        "start": "2027-03-01T09:00:00Z",
        "end": "2027-03-01T10:00:00Z",
        "start_timezone": "Europe/Amsterdam",
        "end_timezone": "Europe/Amsterdam",
        "calendar_ids": [calendar["id"]],
    }
    event = _created(client.post("/api/v2/events/", json=body, headers=owner))
    return calendar["id"], event["id"]


def _share_calendar(client: httpx.Client, stage: Stage, calendar_id: str, permission: str) -> None:
    """Ann shares the calendar with the actor, who accepts (invited_* -> subscribed_*)."""
    body = {
        "calendar_id": calendar_id,
        "subscriber": {"user_id": stage.actor.person.id},
        "permission": permission,
    }
    share = _created(client.post("/api/v2/calendar-subscriptions/", json=body, headers=stage.ann))
    accepted = client.patch(
        f"/api/v2/calendar-subscriptions/{share['id']}/",
        json={"permission": permission.replace("invited", "subscribed")},
        headers=stage.actor.person.headers,
    )
    assert accepted.status_code == 200, accepted.text


def _invite_to_event(client: httpx.Client, stage: Stage, event_id: str) -> None:
    """Ann invites the actor to the event (read); the actor attends (-> subscribed_read)."""
    body = {
        "event_id": event_id,
        "subscriber": {"user_id": stage.actor.person.id},
        "permission": "invited_read",
    }
    invite = _created(client.post("/api/v2/event-subscriptions/", json=body, headers=stage.ann))
    answered = client.patch(
        f"/api/v2/event-subscriptions/{invite['id']}/",
        json={"rsvp_status": "attending"},
        headers=stage.actor.person.headers,
    )
    assert answered.status_code == 200, answered.text


def _arrange(
    client: httpx.Client, stage: Stage, relation: str, credential: str
) -> tuple[dict[str, str], str, str]:
    """The actor's headers and the (calendar, event) ids of this row."""
    if credential == "sandbox":
        headers = stage.sandbox
        owner = stage.sandbox if relation == "owner" else stage.ann
        return (headers, *_make_objects(client, owner))
    actor = stage.admin if relation == "service-admin" else stage.actor
    headers = actor.credentials[credential]
    if relation == "owner":
        return (headers, *_make_objects(client, actor.credentials["bearer-write"]))
    calendar_id, event_id = _make_objects(client, stage.ann)
    if relation == "calendar-read":
        _share_calendar(client, stage, calendar_id, "invited_read")
    elif relation == "calendar-write":
        _share_calendar(client, stage, calendar_id, "invited_write")
    elif relation == "event-subscription":
        _invite_to_event(client, stage, event_id)
    else:
        assert relation in ("none", "service-admin"), relation
    return headers, calendar_id, event_id


def _listed(response: httpx.Response, object_id: str) -> str:
    assert response.status_code == 200, response.text
    return "yes" if object_id in {item["id"] for item in response.json()["data"]} else "no"


def _outcome(response: httpx.Response) -> str:
    if response.status_code != 403:
        return str(response.status_code)
    code = response.json()["error"]["code"]
    return next((cell for cell, (_, c) in _CODES.items() if c == code), f"403:{code}")


def _act(
    client: httpx.Client,
    stage: Stage,
    headers: dict[str, str],
    calendar_id: str,
    event_id: str,
    name: str,
) -> str:
    cyd = {"user_id": stage.cyd.id}
    event_path, calendar_path = f"/api/v2/events/{event_id}/", f"/api/v2/calendars/{calendar_id}/"
    requests: dict[str, Callable[[], httpx.Response]] = {
        "event.list": lambda: client.get("/api/v2/events/", headers=headers, params=_page()),
        "event.read": lambda: client.get(event_path, headers=headers),
        "event.update": lambda: client.patch(event_path, json={"title": "x"}, headers=headers),
        "event.share": lambda: client.post(
            "/api/v2/event-subscriptions/",
            json={"event_id": event_id, "subscriber": cyd, "permission": "invited_read"},
            headers=headers,
        ),
        "event.delete": lambda: client.delete(event_path, headers=headers),
        "calendar.list": lambda: client.get("/api/v2/calendars/", headers=headers, params=_page()),
        "calendar.read": lambda: client.get(calendar_path, headers=headers),
        "calendar.update": lambda: client.patch(calendar_path, json={"name": "x"}, headers=headers),
        "calendar.share": lambda: client.post(
            "/api/v2/calendar-subscriptions/",
            json={"calendar_id": calendar_id, "subscriber": cyd, "permission": "invited_read"},
            headers=headers,
        ),
        "calendar.delete": lambda: client.delete(calendar_path, headers=headers),
    }
    response = requests[name]()
    if name.endswith(".list"):
        return _listed(response, event_id if name.startswith("event") else calendar_id)
    return _outcome(response)


def _page() -> dict[str, str]:
    return {"limit": "100", "order_by": "sync_token", "order_asc": "false"}


@pytest.mark.parametrize(
    ("relation", "credential", "expected"),
    ROWS,
    ids=[f"{relation}-{credential}" for relation, credential, _ in ROWS],
)
def test_relation_credential_action(
    stage: Stage, relation: str, credential: str, expected: tuple[str, ...]
) -> None:
    with httpx.Client(base_url=stage.server.url, timeout=30) as client:
        headers, calendar_id, event_id = _arrange(client, stage, relation, credential)
        got = tuple(_act(client, stage, headers, calendar_id, event_id, name) for name in ACTIONS)
    assert dict(zip(ACTIONS, got, strict=True)) == dict(zip(ACTIONS, expected, strict=True))


def test_the_table_covers_every_pair() -> None:
    """Each relation with each credential, once (sandbox users have no relation but their
    own data: they cannot be shared with or invited, SPEC §5.4)."""
    pairs = [(relation, credential) for relation, credential, _ in ROWS]
    assert len(pairs) == len(set(pairs))
    relations = {relation for relation, _ in pairs}
    credentials = {credential for _, credential in pairs}
    for relation in relations:
        for credential in credentials - {"sandbox"}:
            assert (relation, credential) in pairs, (relation, credential)
    assert {("none", "sandbox"), ("owner", "sandbox")} <= set(pairs)
