"""Every endpoint with a body answers bad input with a 4xx in the error envelope and writes
nothing (issue 2; SPEC §4 "Validation errors are 400 invalid_request ... unknown fields are
errors"). Table-driven: for each endpoint a valid body, and per field the wrong values of its
kind. Runs on SQLite and PostgreSQL (which rejects NUL bytes and over-long varchars itself:
those must still be 400, never 500)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from c42.db import Database
from tests.factories import Factory
from tests.resources.checks import assert_error, fingerprint
from tests.resources.world import PASSWORD, World, build_world, send_json

UNKNOWN_ID = "0" * 32
NESTED = {"a": 1}
for _ in range(300):
    NESTED = {"a": NESTED}

# Wrong values per kind of field. A kind is (name, max_length or None).
NOT_STRINGS: list[Any] = [123, 1.5, True, [], {}, ["x"], {"a": "b"}]
BAD_TEXT: list[Any] = [
    *NOT_STRINGS,
    "a\x00b",  # NUL: PostgreSQL refuses it in text columns
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "ok \udfff then",
    # The other control characters (c42.text): C0 but TAB/LF/CR, DEL, C1.
    "a\x1b[31mb",
    "\x0b",
    "x\x7f",
    "\x85 y",
    "\x9b",
]
BAD_BOOL: list[Any] = ["true", "false", 1, 0, "yes", [], {}, 1.0]
BAD_INT: list[Any] = ["1", 1.5, True, -1, 2**70, -(2**70), [], {}, "NaN"]
BAD_ID: list[Any] = [
    "xyz",
    "A" * 32,  # ids are lowercase hex
    "g" * 32,
    "0" * 31,
    "0" * 33,
    "\x00" * 32,
    "é" * 32,
    123,
    [],
    {},
    True,
]
BAD_TIMEZONE: list[Any] = [
    "Mars/Olympus_Mons",
    "",
    "UTC+01:00",
    "../../etc/passwd",
    "Europe/Amsterdam\x00",
    "x" * 300,
    "europe/amsterdam",
    5,
    [],
]
BAD_DATE: list[Any] = [
    "2027-13-01T00:00:00Z",
    "2027-02-30T00:00:00Z",
    "2027-01-10T25:00:00Z",
    "yesterday",
    "",
    "2027-01-10T09:00:00",  # naive: no timezone
    "2027-01-10",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",  # year 0 once in UTC
    "9999-12-31T23:00:00-05:00",  # year 10000 once in UTC
    "2027-01-10T09:00:00+24:00",
    "2027-01-10T09:00:00Z" + "0" * 100,
    "\x00",
    1700000000,
    True,
    [],
]
BAD_LOCATION: list[Any] = [
    "Amsterdam",
    5,
    [],
    [1, 2],
    True,
    NESTED,
    {"lat": float("nan")},
    {"lat": float("inf")},
    {"n": 10**30},
    {"name\x00": "x"},
    {"name": "a\x00b"},
    {"name": "\ud800"},
    {"name": "a\x1bb"},
    {"a\x7f": 1},
]
BAD_ID_LIST: list[Any] = [
    "abc",
    UNKNOWN_ID,
    ["xyz"],
    [1],
    [None],
    [UNKNOWN_ID] * 101,
    {"a": 1},
    True,
]


def bad_values(kind: str, max_length: int | None) -> list[Any]:
    too_long = ["x" * (max_length + 1)] if max_length else []
    too_long_unicode = ["é" * (max_length + 1)] if max_length else []  # chars, not bytes
    return {
        "text": BAD_TEXT + too_long + too_long_unicode,
        "bool": BAD_BOOL,
        "int": BAD_INT,
        "id": BAD_ID,
        "timezone": BAD_TIMEZONE,
        "date": BAD_DATE,
        "location": BAD_LOCATION,
        "id_list": BAD_ID_LIST,
        "enum": ["bogus", "", "NORMAL", 1, True, [], {}],
        "subscriber": [
            {},
            "bob",
            None,
            [],
            {"user_id": UNKNOWN_ID},
            {"user_id": "xyz"},
            {"email": "not-an-email"},
            {"email": "a\x00b@example.com"},
            {"email": 5},
            {"email": "x" * 400 + "@example.com"},
            {"user_id": UNKNOWN_ID, "email": "a@example.com"},
            {"user_id": None, "email": None},
            {"user_id": UNKNOWN_ID, "extra": 1},
        ],
    }[kind]


@dataclass
class BodyEndpoint:
    name: str
    method: str
    path: str
    valid: dict[str, Any]
    fields: dict[str, tuple[str, int | None]]
    required: tuple[str, ...] = ()
    authenticated: bool = True
    semantic: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sample: int = 1  # every n-th wrong value, for endpoints sharing a schema tested in full


EVENT = {
    "event_type": "normal",
    "title": "Meeting",
    "start": "2027-01-10T09:00:00Z",
    "end": "2027-01-10T10:00:00Z",
    "start_timezone": "Europe/Amsterdam",
    "end_timezone": "Europe/Amsterdam",
}
EVENT_FIELDS: dict[str, tuple[str, int | None]] = {
    "event_type": ("enum", None),
    "title": ("text", 500),
    "description": ("text", 20_000),
    "start": ("date", None),
    "end": ("date", None),
    "start_timezone": ("timezone", None),
    "end_timezone": ("timezone", None),
    "all_day": ("bool", None),
    "due": ("date", None),
    "color": ("text", 32),
    "icon": ("text", 2000),
    "logo": ("text", 2000),
    "source_url": ("text", 2000),
    "is_suggestion": ("bool", None),
    "start_location": ("location", None),
    "end_location": ("location", None),
    "related_event": ("id", None),
    "time_buffer": ("int", None),
    "calendar_ids": ("id_list", None),
}
EVENT_RULES: list[tuple[str, dict[str, Any]]] = [
    ("start-after-end", {**EVENT, "start": "2027-01-10T11:00:00Z"}),
    ("start-after-end-by-offset", {**EVENT, "end": "2027-01-10T10:30:00+02:00"}),
    ("todo-with-start", {"event_type": "todo", "title": "x", "start": "2027-01-10T09:00:00Z"}),
    ("todo-with-end", {"event_type": "todo", "end": "2027-01-10T09:00:00Z"}),
    ("normal-without-end", {k: v for k, v in EVENT.items() if k != "end"}),
    ("normal-without-timezone", {k: v for k, v in EVENT.items() if k != "end_timezone"}),
    ("time-block-without-start", {"event_type": "time_block", "end": EVENT["end"]}),
    ("route-start-without-timezone", {"event_type": "route", "start": EVENT["start"]}),
    ("unknown-related-event", {**EVENT, "related_event": UNKNOWN_ID}),
    ("unknown-calendar", {**EVENT, "calendar_ids": [UNKNOWN_ID]}),
]
EVENT_PATCH_RULES: list[tuple[str, dict[str, Any]]] = [
    ("start-after-existing-end", {"start": "2027-01-10T11:00:00Z"}),
    ("end-before-existing-start", {"end": "2027-01-10T08:00:00Z"}),
    ("null-event-type", {"event_type": None}),
    ("null-start", {"start": None}),
    ("to-todo-keeping-start", {"event_type": "todo"}),
    ("unknown-calendar", {"calendar_ids": [UNKNOWN_ID]}),
]
CALENDAR_FIELDS: dict[str, tuple[str, int | None]] = {
    "name": ("text", 200),
    "description": ("text", 20_000),
    "category": ("text", 100),
    "color": ("text", 32),
    "icon": ("text", 2000),
    "logo": ("text", 2000),
    "calendar_type": ("enum", None),
}
INVITATION_FIELDS: dict[str, tuple[str, int | None]] = {
    "event_id": ("id", None),
    "subscriber": ("subscriber", None),
    "permission": ("enum", None),
    "is_invitation": ("bool", None),
    "message": ("text", 5000),
}
SUBSCRIPTION_CHANGE_FIELDS: dict[str, tuple[str, int | None]] = {
    "rsvp_status": ("enum", None),
    "permission": ("enum", None),
    "message": ("text", 5000),
}

ENDPOINTS = [
    BodyEndpoint(
        "calendars-post",
        "POST",
        "/api/v2/calendars/",
        {"name": "Cal"},
        CALENDAR_FIELDS,
        required=("name",),
    ),
    BodyEndpoint(
        "calendars-patch",
        "PATCH",
        "/api/v2/calendars/{cal}/",
        {"name": "Renamed"},
        CALENDAR_FIELDS,
        sample=2,  # the schema of POST
        semantic=[("null-name", {"name": None}), ("empty-name", {"name": ""})],
    ),
    BodyEndpoint(
        "events-post",
        "POST",
        "/api/v2/events/",
        EVENT,
        EVENT_FIELDS,
        required=("event_type",),
        semantic=EVENT_RULES,
    ),
    BodyEndpoint(
        "events-put",
        "PUT",
        "/api/v2/events/{event}/",
        EVENT,
        EVENT_FIELDS,
        required=("event_type",),
        semantic=[*EVENT_RULES, ("without-event-type", {"title": "x"})],
        sample=3,  # the schema of POST, tested in full above
    ),
    BodyEndpoint(
        "events-patch",
        "PATCH",
        "/api/v2/events/{event}/",
        {"title": "Changed"},
        EVENT_FIELDS,
        semantic=EVENT_PATCH_RULES,
    ),
    BodyEndpoint(
        "event-subscriptions-post",
        "POST",
        "/api/v2/event-subscriptions/",
        {"event_id": "{event}", "subscriber": {"email": "someone@example.com"}},
        INVITATION_FIELDS,
        required=("event_id", "subscriber"),
        semantic=[
            (
                "grant-subscribed",
                {
                    "event_id": "{event}",
                    "subscriber": {"email": "x@example.com"},
                    "permission": "subscribed_read",
                },
            ),
            (
                "grant-removed",
                {
                    "event_id": "{event}",
                    "subscriber": {"email": "x@example.com"},
                    "permission": "removed",
                },
            ),
            ("unknown-event", {"event_id": UNKNOWN_ID, "subscriber": {"email": "x@example.com"}}),
        ],
    ),
    BodyEndpoint(
        "event-subscriptions-patch",
        "PATCH",
        "/api/v2/event-subscriptions/{esub}/",
        {"message": "hello"},
        SUBSCRIPTION_CHANGE_FIELDS,
        semantic=[
            ("grant-subscribed", {"permission": "subscribed_write"}),
            ("answer-for-someone-else", {"rsvp_status": "attending"}),
        ],
    ),
    BodyEndpoint(
        "event-subscriptions-put",
        "PUT",
        "/api/v2/event-subscriptions/{esub}/",
        {"message": "hello"},
        SUBSCRIPTION_CHANGE_FIELDS,
        sample=2,  # the schema of PATCH
    ),
    BodyEndpoint(
        "calendar-subscriptions-post",
        "POST",
        "/api/v2/calendar-subscriptions/",
        {"calendar_id": "{cal}", "subscriber": {"email": "someone@example.com"}},
        {
            "calendar_id": ("id", None),
            "subscriber": ("subscriber", None),
            "permission": ("enum", None),
        },
        required=("calendar_id", "subscriber"),
        semantic=[
            (
                "grant-subscribed",
                {
                    "calendar_id": "{cal}",
                    "subscriber": {"email": "x@example.com"},
                    "permission": "subscribed_write",
                },
            ),
            (
                "unknown-calendar",
                {"calendar_id": UNKNOWN_ID, "subscriber": {"email": "x@example.com"}},
            ),
        ],
    ),
    BodyEndpoint(
        "calendar-subscriptions-patch",
        "PATCH",
        "/api/v2/calendar-subscriptions/{csub}/",
        {"permission": "invited_write"},
        {"permission": ("enum", None)},
        required=("permission",),
        semantic=[("grant-subscribed", {"permission": "subscribed_write"})],
    ),
    BodyEndpoint(
        "user-tokens-post",
        "POST",
        "/api/v2/user-tokens/",
        {"email": "{owner_email}", "password": PASSWORD},
        {
            "email": ("text", 320),
            "password": ("text", 1000),
            "name": ("text", 200),
            "expires_in": ("int", None),
        },
        required=("email", "password"),
        authenticated=False,
        semantic=[
            (
                "expires-in-too-short",
                {"email": "{owner_email}", "password": PASSWORD, "expires_in": 59},
            ),
            ("expires-in-zero", {"email": "{owner_email}", "password": PASSWORD, "expires_in": 0}),
            (
                "expires-in-too-long",
                {"email": "{owner_email}", "password": PASSWORD, "expires_in": 10**12},
            ),
        ],
    ),
]


def _cases() -> Iterator[Any]:
    for ep in ENDPOINTS:
        seen: set[str] = set()
        for name, (kind, max_length) in ep.fields.items():
            # The first field of a kind gets every wrong value; later fields of the same kind
            # (validated by the same type) a quarter of them, always including too-long text.
            values = bad_values(kind, max_length)
            step = ep.sample if kind not in seen else 4 * ep.sample
            seen.add(kind)
            picked = values[::step]
            if max_length and values[-1] not in picked:
                picked.append(values[-1])
            for i, value in enumerate(picked):
                yield pytest.param(ep, {**ep.valid, name: value}, id=f"{ep.name}-{name}-{i}")
        for name in ep.required:
            yield pytest.param(ep, {**ep.valid, name: None}, id=f"{ep.name}-{name}-null")
            body = {k: v for k, v in ep.valid.items() if k != name}
            yield pytest.param(ep, body, id=f"{ep.name}-{name}-missing")
        for i, extra in enumerate(({"unknown": 1}, {"id": UNKNOWN_ID}, {"sync_token": 5})):
            yield pytest.param(ep, {**ep.valid, **extra}, id=f"{ep.name}-unknown-field-{i}")
        for i, whole in enumerate(([ep.valid], [], "x", 5, None, True)):
            yield pytest.param(ep, whole, id=f"{ep.name}-not-an-object-{i}")
        for label, body in ep.semantic:
            yield pytest.param(ep, body, id=f"{ep.name}-{label}")


@pytest.fixture(scope="module")
def world(server: Any, db: Database, settings: Any) -> Iterator[World]:
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield build_world(http, Factory(db, settings))


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str):
        return world.path(value.replace("{owner_email}", world.owner.email))
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list) and len(value) < 50:
        return [_fill(v, world) for v in value]
    return value


@pytest.mark.parametrize(("endpoint", "body"), list(_cases()))
def test_bad_body_is_a_4xx_and_writes_nothing(
    client: httpx.Client, db: Database, world: World, endpoint: BodyEndpoint, body: Any
) -> None:
    headers = world.owner.headers if endpoint.authenticated else {}
    before = fingerprint(db)
    response = send_json(
        client, endpoint.method, world.path(endpoint.path), _fill(body, world), headers
    )
    assert_error(response)
    assert fingerprint(db) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[ep.name for ep in ENDPOINTS])
def test_valid_body_is_accepted(client: httpx.Client, world: World, endpoint: BodyEndpoint) -> None:
    """The baseline of the table: each endpoint's valid body succeeds, so the refusals above
    are caused by the one bad value."""
    headers = world.owner.headers if endpoint.authenticated else {}
    body = _fill(endpoint.valid, world)
    response = send_json(client, endpoint.method, world.path(endpoint.path), body, headers)
    assert response.status_code in (200, 201), response.text
    assert len(response.json()["data"]) == 1


def test_longest_values_round_trip(client: httpx.Client, world: World) -> None:
    """The limits are in characters, as PostgreSQL's varchar counts them: the longest
    multi-byte values are stored and returned unchanged on both databases."""
    name, title = "é" * 200, "日" * 500
    cal = send_json(client, "POST", "/api/v2/calendars/", {"name": name}, world.owner.headers)
    assert cal.status_code == 201, cal.text
    assert cal.json()["data"][0]["name"] == name
    location = {"name": "Zoë's café ☕", "lat": 52.37, "lng": 4.89, "tags": ["a", {"b": None}]}
    body = {**EVENT, "title": title, "start_location": location, "color": "#" + "f" * 31}
    ev = send_json(client, "POST", "/api/v2/events/", body, world.owner.headers)
    assert ev.status_code == 201, ev.text
    got = client.get(f"/api/v2/events/{ev.json()['data'][0]['id']}/", headers=world.owner.headers)
    data = got.json()["data"][0]
    assert (data["title"], data["start_location"], data["color"]) == (
        title,
        location,
        body["color"],
    )
