"""Bad query parameters, malformed ids in paths and bad bodies at the HTTP level: always a 4xx
in the error envelope, never a 500, and nothing written (issue 2; SPEC §4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from c42.db import Database
from tests.factories import Factory
from tests.resources.checks import assert_error, fingerprint
from tests.resources.world import World, build_world, send_json

ID = "0123456789abcdef0123456789abcdef"
LISTS = {
    "/api/v2/calendars/": {"ids": "id", "service_ids": "id", "categories": "name"},
    "/api/v2/events/": {
        "ids": "id",
        "service_ids": "id",
        "calendar_ids": "id",
        "calendar_ids__or": "id",
        "event_types": "name",
    },
    "/api/v2/event-subscriptions/": {
        "event_ids": "id",
        "subscriber_ids": "id",
        "service_ids": "id",
        "rsvp_status": "name",
    },
    "/api/v2/calendar-subscriptions/": {"calendar_ids": "id", "subscriber_ids": "id"},
}
BAD_LIMIT = ["-1", "101", "1000", "abc", "1.5", "", "10abc", "0x10", str(2**70), "1e2"]
BAD_OFFSET = ["-1", "abc", "1.5", "", str(10**8), str(2**70), "-0.5"]
BAD_SYNC_TOKEN = ["-1", "abc", "1.5", "", str(2**63), str(2**70), "0x1f", "None"]
BAD_ID_ARRAYS = [
    "a,b",
    ID,
    "[",
    "]",
    "[x]",
    f"[{ID.upper()}]",
    f"[{ID},,{ID}]",
    f"[{ID},]",
    f"[,{ID}]",
    f"[[{ID}]]",
    f"[{ID}\x00]",
    f"({ID})",
    f"[{ID} {ID}]",
    "[" + ",".join([ID] * 200) + "]",
    "[" + "é" * 32 + "]",
]
BAD_NAME_ARRAYS = ["bogus", "[", "[a b]", "[" + "x" * 65 + "]", "[a,,b]", "[\x00]", "[é]"]
UNKNOWN_NAMES = {"event_types": "[party]", "rsvp_status": "[maybe]"}


def _query_cases() -> Iterator[Any]:
    for path, filters in LISTS.items():
        for name, values in (
            ("limit", BAD_LIMIT),
            ("offset", BAD_OFFSET),
            ("sync_token", BAD_SYNC_TOKEN),
        ):
            for i, value in enumerate(values):
                yield pytest.param(path, {name: value}, id=f"{path.split('/')[3]}-{name}-{i}")
        for name, kind in filters.items():
            values = BAD_ID_ARRAYS if kind == "id" else BAD_NAME_ARRAYS
            if name in UNKNOWN_NAMES:
                values = [*values, UNKNOWN_NAMES[name]]
            for i, value in enumerate(values):
                yield pytest.param(path, {name: value}, id=f"{path.split('/')[3]}-{name}-{i}")
    for i, value in enumerate(["title", "", "START", "-start", "created", "id"]):
        yield pytest.param("/api/v2/events/", {"order_by": value}, id=f"events-order_by-{i}")
    for i, value in enumerate(["maybe", "2", "", "null", "truee"]):
        yield pytest.param("/api/v2/events/", {"order_asc": value}, id=f"events-order_asc-{i}")


@pytest.fixture(scope="module")
def world(server: Any, db: Database, settings: Any) -> Iterator[World]:
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield build_world(http, Factory(db, settings))


@pytest.mark.parametrize(("path", "params"), list(_query_cases()))
def test_bad_query_parameter_is_400(
    client: httpx.Client, world: World, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params, headers=world.owner.headers)
    error = assert_error(response, 400, "invalid_request")
    assert next(iter(params)) in error["message"] + json.dumps(error.get("fields", {}))


@pytest.mark.parametrize("path", list(LISTS))
def test_limit_101_is_400_but_100_is_fine(client: httpx.Client, world: World, path: str) -> None:
    assert_error(client.get(path, params={"limit": 101}, headers=world.owner.headers), 400)
    assert client.get(path, params={"limit": 100}, headers=world.owner.headers).status_code == 200


@pytest.mark.parametrize("path", list(LISTS))
def test_empty_bracket_array_matches_nothing(client: httpx.Client, world: World, path: str) -> None:
    name = next(iter(LISTS[path]))
    response = client.get(path, params={name: "[]"}, headers=world.owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["meta_data"]["count"] == 0


BAD_PATH_IDS = [
    "xyz",
    "0" * 31,
    "0" * 33,
    ID.upper(),
    "a" * 5000,
    "%C3%A9" * 32,
    "%00",
    ID + "%00",
    "%0a",
    "%20",
    "%2e%2e",
    "null",
    "-1",
    "1e10",
    "%2F",
    "%E2%80%AE" + ID,
    "%FF",
]
DETAIL_ROUTES = {
    "/api/v2/calendars/{}/": ("GET", "PATCH", "DELETE"),
    "/api/v2/events/{}/": ("GET", "PUT", "PATCH", "DELETE"),
    "/api/v2/event-subscriptions/{}/": ("GET", "PUT", "PATCH", "DELETE"),
    "/api/v2/calendar-subscriptions/{}/": ("GET", "PATCH", "DELETE"),
    "/api/v2/services/{}/": ("GET",),
    "/api/v2/user-tokens/{}/": ("DELETE",),
}
VALID_BODIES = {
    "calendars": {"name": "x"},
    "events": {"title": "x"},
    "event-subscriptions": {"message": "x"},
    "calendar-subscriptions": {"permission": "removed"},
}


def _path_cases() -> Iterator[Any]:
    for template, methods in DETAIL_ROUTES.items():
        for method in methods:
            # Every malformed id on the first method of a route; a third of them on the others
            # (the same check_id guards them all).
            bad_ids = BAD_PATH_IDS if method == methods[0] else BAD_PATH_IDS[::3]
            for i, bad in enumerate(bad_ids):
                name = template.split("/")[3]
                yield pytest.param(method, template, bad, id=f"{method}-{name}-{i}")


@pytest.mark.parametrize(("method", "template", "bad"), list(_path_cases()))
def test_malformed_id_in_path_is_404(
    client: httpx.Client, db: Database, world: World, method: str, template: str, bad: str
) -> None:
    before = fingerprint(db)
    resource = template.split("/")[3]
    body = VALID_BODIES.get(resource) if method in ("PUT", "PATCH") else None
    if method == "PUT" and resource == "events":
        body = {"event_type": "todo", "title": "x"}
    url = httpx.URL(client.base_url.join("/")).copy_with(raw_path=template.format(bad).encode())
    content = json.dumps(body).encode() if body is not None else None
    headers = {**world.owner.headers, "Content-Type": "application/json"}
    response = client.request(method, url, content=content, headers=headers)
    assert_error(response, 404, "not_found")
    assert fingerprint(db) == before


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("/api/v2/calendars/{}/", "event"),
        ("/api/v2/events/{}/", "cal"),
        ("/api/v2/event-subscriptions/{}/", "csub"),
        ("/api/v2/calendar-subscriptions/{}/", "esub"),
        ("/api/v2/services/{}/", "event"),
    ],
)
def test_id_of_another_kind_is_404(
    client: httpx.Client, world: World, template: str, key: str
) -> None:
    other = world.path("{" + key + "}")
    assert_error(client.get(template.format(other), headers=world.owner.headers), 404, "not_found")


METHOD_NOT_ALLOWED = [
    ("PUT", "/api/v2/calendars/{cal}/"),
    ("POST", "/api/v2/events/{event}/"),
    ("DELETE", "/api/v2/events/"),
    ("PATCH", "/api/v2/calendars/"),
    ("PUT", "/api/v2/calendar-subscriptions/{csub}/"),
    ("POST", "/api/v2/services/{service}/"),
    ("GET", "/api/v2/user-tokens/{event}/"),
]


@pytest.mark.parametrize(("method", "template"), METHOD_NOT_ALLOWED)
def test_method_not_allowed_in_envelope(
    client: httpx.Client, db: Database, world: World, method: str, template: str
) -> None:
    before = fingerprint(db)
    response = send_json(client, method, world.path(template), {"name": "x"}, world.owner.headers)
    assert_error(response, 405, "method_not_allowed")
    assert fingerprint(db) == before


@pytest.mark.parametrize(
    "path", ["/api/v2/nope/", "/api/v2/events/a/b/", "/api/v2/", "/api/v2/events//"]
)
def test_unknown_path_is_404_in_envelope(client: httpx.Client, world: World, path: str) -> None:
    assert_error(client.get(path, headers=world.owner.headers), 404, "not_found")


# --- bodies at the HTTP level ---------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/api/v2/calendars/"),
    ("PATCH", "/api/v2/calendars/{cal}/"),
    ("POST", "/api/v2/events/"),
    ("PUT", "/api/v2/events/{event}/"),
    ("PATCH", "/api/v2/events/{event}/"),
    ("POST", "/api/v2/event-subscriptions/"),
    ("PATCH", "/api/v2/event-subscriptions/{esub}/"),
    ("POST", "/api/v2/calendar-subscriptions/"),
    ("PATCH", "/api/v2/calendar-subscriptions/{csub}/"),
    ("POST", "/api/v2/user-tokens/"),
]
ROUTE_IDS = [f"{m}-{p.split('/')[3]}" for m, p in BODY_ROUTES]
JSON = "application/json"


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _deep(depth: int) -> bytes:
    return b'{"title": ' + b"[" * depth + b"]" * depth + b"}"


RAW_BODIES: list[tuple[str, bytes, str | None, int, str]] = [
    # (case, body, content type, status, code)
    ("not-json", b"this is not json", JSON, 400, "invalid_request"),
    ("truncated-json", b'{"name": "x"', JSON, 400, "invalid_request"),
    ("empty-body", b"", JSON, 400, "invalid_request"),
    ("empty-body-no-type", b"", None, 400, "invalid_request"),
    ("json-array", b'[{"name": "x"}]', JSON, 400, "invalid_request"),
    ("json-string", b'"x"', JSON, 400, "invalid_request"),
    ("json-null", b"null", JSON, 400, "invalid_request"),
    ("invalid-utf8", b'{"name": "\xff\xfe"}', JSON, 400, "invalid_request"),
    ("latin1", '{"name": "café"}'.encode("latin-1"), JSON + "; charset=latin-1", 400, ""),
    ("deeply-nested", _deep(20_000), JSON, 400, "invalid_request"),
    ("nested-3000", _deep(3000), JSON, 400, "invalid_request"),
    ("nan-literal", b'{"name": NaN}', JSON, 400, "invalid_request"),
    ("text-plain", b'{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
    ("form", b"name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("multipart", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", 415, ""),
    ("no-content-type", b'{"name": "x"}', None, 415, "unsupported_media_type"),
    ("xml", b"<name>x</name>", "application/xml", 415, "unsupported_media_type"),
    ("json-lookalike", b'{"name": "x"}', "application/jsonx", 415, "unsupported_media_type"),
    ("oversized", b'{"name": "' + b"x" * (64 * 1024) + b'"}', JSON, 413, "payload_too_large"),
]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    ("case", "body", "content_type", "status", "code"), RAW_BODIES, ids=[c[0] for c in RAW_BODIES]
)
def test_bad_raw_body(
    client: httpx.Client,
    db: Database,
    world: World,
    route: tuple[str, str],
    case: str,
    body: bytes,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    method, template = route
    headers = dict(world.owner.headers) if "user-tokens" not in template else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = fingerprint(db)
    response = client.request(method, world.path(template), content=body, headers=headers)
    assert_error(response, status, code or None)
    assert fingerprint(db) == before


@pytest.mark.parametrize("route", BODY_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    ("content_type", "status"),
    [(JSON, 413), ("text/plain", 415), (None, 415)],
    ids=["oversized-json", "text-plain", "no-type"],
)
def test_chunked_body_without_length(
    client: httpx.Client,
    db: Database,
    world: World,
    route: tuple[str, str],
    content_type: str | None,
    status: int,
) -> None:
    """Without Content-Length (chunked transfer) the limits and the media type still hold."""
    method, template = route
    headers = dict(world.owner.headers) if "user-tokens" not in template else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    size = 70 * 1024 if status == 413 else 10
    data = b'{"name": "' + b"x" * size + b'"}'
    before = fingerprint(db)
    response = client.request(method, world.path(template), content=_chunks(data), headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, status)
    assert fingerprint(db) == before


def test_body_just_under_the_limit_is_read(client: httpx.Client, world: World) -> None:
    """The 64 KiB limit refuses bodies above it, not valid ones below it."""
    description = "d" * (20_000)
    body = {"name": "big", "description": description}
    response = client.post("/api/v2/calendars/", json=body, headers=world.owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"][0]["description"] == description
    chunked = client.post(
        "/api/v2/calendars/",
        content=_chunks(json.dumps(body).encode(), 1000),
        headers={**world.owner.headers, "Content-Type": JSON},
    )
    assert chunked.status_code == 201, chunked.text


def test_json_with_charset_parameter_is_accepted(client: httpx.Client, world: World) -> None:
    response = client.post(
        "/api/v2/calendars/",
        content=json.dumps({"name": "charset"}).encode(),
        headers={**world.owner.headers, "Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
