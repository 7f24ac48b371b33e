"""`readable_events` (the read rule kept as rows, c42.access.readable) under concurrent writers.

Every test of the suite is followed by a check of the whole table against the rule
(tests/conftest.py); these tests add the races that a single writer never meets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import insert

from c42.access import readable
from c42.access.permissions import Permission
from c42.db import Database, next_sync_token
from c42.models import CalendarSubscription, EventCalendar, new_id
from tests.conftest import readable_mismatch
from tests.factories import Factory, calendar, share_calendar


def _client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60, verify=False)  # noqa: S501


def _together(*work: Callable[[], None]) -> None:
    """Run the functions at the same time, each on a thread; wait for all of them."""
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer did not finish in 120 s"


def _count(http: httpx.Client, headers: dict[str, str], calendar_id: str) -> int:
    r = http.get(
        "/api/v2/events/", params={"limit": 0, "calendar_ids": f"[{calendar_id}]"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return int(r.json()["meta_data"]["count"])


def test_sharing_a_calendar_while_events_are_added_to_it(
    server: Any, factory: Factory, db: Database
) -> None:
    """One writer adds events to a calendar while another shares it with new readers: each
    reader ends up reading every event of the calendar, whichever commit came first. (Each
    write recomputes its rows from what it sees; on PostgreSQL two such writes serialise on
    an advisory lock, else each could miss the other's uncommitted row.)"""
    owner = factory.user(prefix="owner")
    readers = [factory.user(prefix="reader") for _ in range(6)]
    with _client(server) as http:
        cal = calendar(http, owner)
    events_added = 12
    errors: list[str] = []

    def add_events() -> None:
        with _client(server) as c:
            for i in range(events_added):
                r = c.post(
                    "/api/v2/events/",
                    json={"event_type": "todo", "title": f"e{i}", "calendar_ids": [cal["id"]]},
                    headers=owner.headers,
                )
                if r.status_code != 201:
                    errors.append(r.text)

    def share() -> None:
        with _client(server) as c:
            for reader in readers:
                share_calendar(c, owner, cal["id"], reader, "invited_read")

    _together(add_events, share)
    assert errors == []
    assert readable_mismatch(db) == []
    with _client(server) as http:
        assert _count(http, owner.headers, cal["id"]) == events_added
        for reader in readers:
            assert _count(http, reader.headers, cal["id"]) == events_added


def test_leaving_and_deleting_while_reading(server: Any, factory: Factory, db: Database) -> None:
    """Readers leave a shared calendar while its owner deletes events of it: afterwards the
    readers read nothing of it and the owner exactly the events left."""
    owner = factory.user(prefix="owner")
    readers = [factory.user(prefix="reader") for _ in range(4)]
    with _client(server) as http:
        cal = calendar(http, owner)
        ids = []
        for i in range(8):
            r = http.post(
                "/api/v2/events/",
                json={"event_type": "todo", "title": f"e{i}", "calendar_ids": [cal["id"]]},
                headers=owner.headers,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["data"][0]["id"])
        subscriptions = [share_calendar(http, owner, cal["id"], p, "invited_read") for p in readers]
    errors: list[str] = []

    def delete_events() -> None:
        with _client(server) as c:
            for event_id in ids[:5]:
                r = c.delete(f"/api/v2/events/{event_id}/", headers=owner.headers)
                if r.status_code != 204:
                    errors.append(r.text)

    def leave() -> None:
        with _client(server) as c:
            for reader, subscription in zip(readers, subscriptions, strict=True):
                r = c.delete(
                    f"/api/v2/calendar-subscriptions/{subscription['id']}/", headers=reader.headers
                )
                if r.status_code != 204:
                    errors.append(r.text)

    _together(delete_events, leave)
    assert errors == []
    assert readable_mismatch(db) == []
    with _client(server) as http:
        assert _count(http, owner.headers, cal["id"]) == 3
        for reader in readers:
            r = http.get("/api/v2/events/", params={"limit": 0}, headers=reader.headers)
            assert r.json()["meta_data"]["count"] == 0


def test_two_refreshes_in_flight_see_each_others_change(
    server: Any, factory: Factory, db: Database
) -> None:
    """The race itself, forced: transaction A shares a calendar and refreshes, and before A
    commits, transaction B puts an event into that calendar and refreshes. B's refresh must
    wait for A's commit and then see A's share (PostgreSQL: the calendar's row lock, see
    c42.access.readable; SQLite: B cannot even begin writing before A commits). Else the new
    reader would miss the event."""
    owner, reader = factory.user(prefix="owner"), factory.user(prefix="reader")
    with _client(server) as http:
        cal = calendar(http, owner)
        loose = http.post(
            "/api/v2/events/", json={"event_type": "todo", "title": "x"}, headers=owner.headers
        )
        assert loose.status_code == 201, loose.text
    event_id = loose.json()["data"][0]["id"]
    a_refreshed = threading.Event()
    errors: list[BaseException] = []

    def transaction_a() -> None:
        try:
            with db.session() as session:
                session.execute(
                    insert(CalendarSubscription.__table__).values(
                        id=new_id(),
                        calendar_id=cal["id"],
                        user_id=reader.id,
                        permission=Permission.SUBSCRIBED_READ,
                        sync_token=next_sync_token(session),
                    )
                )
                events_of_cal = readable.in_calendar(cal["id"])
                readable.refresh(session, event_ids=events_of_cal, user_id=reader.id)
                a_refreshed.set()
                time.sleep(0.5)  # B is now trying to refresh
        except BaseException as error:
            errors.append(error)
            a_refreshed.set()

    def transaction_b() -> None:
        a_refreshed.wait(10)
        try:
            with db.session() as session:
                # as the events service does: a change of a calendar's membership locks it
                readable.lock_calendars(session, [cal["id"]])
                session.execute(
                    insert(EventCalendar.__table__).values(event_id=event_id, calendar_id=cal["id"])
                )
                readable.refresh(session, event_ids=[event_id])
        except BaseException as error:
            errors.append(error)

    _together(transaction_a, transaction_b)
    assert errors == []
    assert readable_mismatch(db) == []
    with _client(server) as http:
        assert _count(http, reader.headers, cal["id"]) == 1
