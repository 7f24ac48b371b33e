"""Pagination (SPEC §4): `limit` default 10, max 100 (above: 400 invalid_request), `limit=0`
returns only the count, `offset` past the end is an empty page, and paging through a list in
any supported order yields every object exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest

from c42.db import Database
from tests.factories import Factory, Person, calendar, create, event
from tests.resources.checks import assert_error

N = 23  # objects of each kind; not a multiple of any page size used below


@dataclass
class Listing:
    person: Person
    event_ids: list[str]
    calendar_ids: list[str]


@pytest.fixture(scope="module")
def listing(server: Any, db: Database, settings: Any) -> Iterator[Listing]:
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        person = Factory(db, settings).user(prefix="pages")
        base = datetime(2027, 3, 1, 8, tzinfo=UTC)
        event_ids = []
        for i in range(N):
            # Several events share a start (ties must still page stably); every third is a
            # todo with a due date and no start.
            when = base + timedelta(hours=(i * 7) % 5)
            iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            if i % 3 == 0:
                due = (base + timedelta(days=i % 4)).strftime("%Y-%m-%dT%H:%M:%SZ")
                body = {"event_type": "todo", "title": f"todo {i}", "due": due}
                event_ids.append(create(http, person, "/api/v2/events/", body)["id"])
            else:
                end = (when + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                event_ids.append(event(http, person, title=f"ev {i}", start=iso, end=end)["id"])
        calendar_ids = [calendar(http, person, f"cal {i}")["id"] for i in range(N)]
        yield Listing(person, event_ids, calendar_ids)


LISTS = {
    "/api/v2/events/": lambda lst: set(lst.event_ids),
    "/api/v2/calendars/": lambda lst: set(lst.calendar_ids),
    # every event has its creator's subscription; every calendar its creator's
    "/api/v2/event-subscriptions/": None,
    "/api/v2/calendar-subscriptions/": None,
}


def _get(client: httpx.Client, person: Person, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"data", "meta_data"}
    assert set(body["meta_data"]) == {"count", "offset", "sync_token"}
    return body


@pytest.mark.parametrize("path", list(LISTS))
def test_default_limit_is_10(client: httpx.Client, listing: Listing, path: str) -> None:
    body = _get(client, listing.person, path)
    assert len(body["data"]) == 10
    assert body["meta_data"]["count"] == N
    assert body["meta_data"]["offset"] == 0


@pytest.mark.parametrize("path", list(LISTS))
def test_limit_100_returns_all_and_101_is_refused(
    client: httpx.Client, listing: Listing, path: str
) -> None:
    body = _get(client, listing.person, path, limit=100)
    assert len(body["data"]) == N
    ids = [obj["id"] for obj in body["data"]]
    assert len(set(ids)) == N
    expected = LISTS[path]
    if expected is not None:
        assert set(ids) == expected(listing)
    response = client.get(path, params={"limit": 101}, headers=listing.person.headers)
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("path", list(LISTS))
def test_limit_zero_returns_only_the_count(
    client: httpx.Client, listing: Listing, path: str
) -> None:
    body = _get(client, listing.person, path, limit=0)
    assert body["data"] == []
    assert body["meta_data"]["count"] == N
    assert body["meta_data"]["sync_token"] >= 1


@pytest.mark.parametrize("path", list(LISTS))
@pytest.mark.parametrize("offset", [N - 1, N, N + 1, 10_000_000])
def test_offset_at_or_past_the_end(
    client: httpx.Client, listing: Listing, path: str, offset: int
) -> None:
    body = _get(client, listing.person, path, offset=offset, limit=5)
    assert len(body["data"]) == (1 if offset == N - 1 else 0)
    assert body["meta_data"]["count"] == N
    assert body["meta_data"]["offset"] == offset


def _page_through(
    client: httpx.Client, person: Person, path: str, size: int, **params: Any
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = _get(client, person, path, limit=size, offset=offset, **params)
        assert body["meta_data"]["count"] == N
        seen.extend(body["data"])
        offset += size
        if offset >= N:
            return seen


@pytest.mark.parametrize("path", list(LISTS))
@pytest.mark.parametrize("size", [1, 4, 10])
def test_pages_cover_everything_once(
    client: httpx.Client, listing: Listing, path: str, size: int
) -> None:
    seen = [obj["id"] for obj in _page_through(client, listing.person, path, size)]
    assert len(seen) == N
    assert len(set(seen)) == N
    everything = [obj["id"] for obj in _get(client, listing.person, path, limit=100)["data"]]
    assert seen == everything  # the same order, page by page


def _key(obj: dict[str, Any], order_by: str) -> Any:
    return obj[order_by]


@pytest.mark.parametrize("order_by", ["sync_token", "start", "due"])
@pytest.mark.parametrize("order_asc", ["true", "false"])
@pytest.mark.parametrize("size", [3, 7])
def test_event_orders_page_stably(
    client: httpx.Client, listing: Listing, order_by: str, order_asc: str, size: int
) -> None:
    seen = _page_through(
        client, listing.person, "/api/v2/events/", size, order_by=order_by, order_asc=order_asc
    )
    ids = [e["id"] for e in seen]
    assert len(ids) == N
    assert set(ids) == set(listing.event_ids)  # no duplicates, no misses across pages
    values = [_key(e, order_by) for e in seen]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=order_asc == "false")
    # Objects without the sort value (todos have no start; normal events no due) form one run
    # at one end, never interleaved.
    flags = [v is None for v in values]
    changes = sum(1 for a, b in pairwise(flags) if a != b)
    assert changes <= 1


def test_order_asc_false_reverses_sync_token_order(client: httpx.Client, listing: Listing) -> None:
    path = "/api/v2/events/"
    up = [e["id"] for e in _get(client, listing.person, path, limit=100)["data"]]
    down = [
        e["id"] for e in _get(client, listing.person, path, limit=100, order_asc="false")["data"]
    ]
    assert up == listing.event_ids  # creation order is sync-token order
    assert down == list(reversed(up))


def test_filters_and_paging_combine(client: httpx.Client, listing: Listing) -> None:
    body = _get(client, listing.person, "/api/v2/events/", event_types="[todo]", limit=2, offset=1)
    todos = [i for n, i in enumerate(listing.event_ids) if n % 3 == 0]
    assert body["meta_data"]["count"] == len(todos)
    assert [e["id"] for e in body["data"]] == todos[1:3]
    ids = "[" + ",".join(listing.event_ids[:5]) + "]"
    body = _get(client, listing.person, "/api/v2/events/", ids=ids, limit=0)
    assert body["meta_data"]["count"] == 5
