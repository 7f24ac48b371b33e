"""Paging through a sync while someone changes data: nothing may be skipped.

A sync reads newest change first; a change made between two pages moves to the front, so
offset paging only repeats objects, and the next sync from the first page's
`meta_data.sync_token` brings the change itself.
"""

from __future__ import annotations

import httpx

from tests.factories import Factory, calendar, event


def _page(client: httpx.Client, headers: dict[str, str], path: str, **params: object) -> dict:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_events_sync_paging_skips_nothing_when_an_object_changes_meanwhile(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    before = _page(client, ann.headers, "/api/v2/events/", limit=0)["meta_data"]["sync_token"]
    created = [event(client, ann, title=f"e{i}")["id"] for i in range(4)]
    first = _page(client, ann.headers, "/api/v2/events/", sync_token=before, limit=2)
    seen = {e["id"] for e in first["data"]}
    changed = client.patch(
        f"/api/v2/events/{created[0]}/", json={"title": "x"}, headers=ann.headers
    )
    assert changed.status_code == 200
    second = _page(client, ann.headers, "/api/v2/events/", sync_token=before, limit=2, offset=2)
    seen |= {e["id"] for e in second["data"]}
    token = first["meta_data"]["sync_token"]
    again = _page(client, ann.headers, "/api/v2/events/", sync_token=token)
    assert {e["id"] for e in again["data"]} == {created[0]}
    assert seen | {created[0]} == set(created)  # (oldest-first paging would lose one)


def test_calendars_sync_paging_skips_nothing_when_an_object_changes_meanwhile(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    before = _page(client, ann.headers, "/api/v2/calendars/", limit=0)["meta_data"]["sync_token"]
    created = [calendar(client, ann, f"c{i}")["id"] for i in range(4)]
    first = _page(client, ann.headers, "/api/v2/calendars/", sync_token=before, limit=2)
    seen = {c["id"] for c in first["data"]}
    assert (
        client.patch(
            f"/api/v2/calendars/{created[0]}/", json={"name": "x"}, headers=ann.headers
        ).status_code
        == 200
    )
    second = _page(client, ann.headers, "/api/v2/calendars/", sync_token=before, limit=2, offset=2)
    seen |= {c["id"] for c in second["data"]}
    token = first["meta_data"]["sync_token"]
    again = _page(client, ann.headers, "/api/v2/calendars/", sync_token=token)
    assert {c["id"] for c in again["data"]} == {created[0]}
    assert seen | {created[0]} == set(created)
