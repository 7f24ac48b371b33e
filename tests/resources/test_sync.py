"""Synchronisation (SPEC §4): every change takes the next value of one global sync token;
`?sync_token=N` returns exactly what changed after N, deleted objects as `{id, permission}`
only; without a sync token deleted objects are gone; and `meta_data.sync_token` lets a client
continue without ever missing a change, also while others write concurrently."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from c42.db import Database
from tests.factories import Factory, Person, calendar, create, event, share_calendar
from tests.resources.checks import current_sync_token, latest_change_token

DELETED_SHAPE = {"id", "permission"}


def _sync(
    client: httpx.Client, person: Person, path: str, token: int, **params: Any
) -> tuple[dict[str, dict[str, Any]], int]:
    """Everything changed after `token` (all pages), by id, and the token to continue from:
    the first page's, as the README says (a later page's token can be past a change that was
    committed meanwhile and listed at an offset already read)."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    first_token: int | None = None
    while True:
        response = client.get(
            path,
            params={"sync_token": token, "limit": 100, "offset": offset, **params},
            headers=person.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if first_token is None:
            first_token = int(body["meta_data"]["sync_token"])
        for obj in body["data"]:
            found[obj["id"]] = obj
        offset += len(body["data"])
        if not body["data"] or offset >= body["meta_data"]["count"]:
            return found, first_token


def _settled(client: httpx.Client, person: Person, path: str, db: Database) -> int:
    """The list's sync token once it covers every change committed so far. On PostgreSQL a
    token is a watermark (c42.sync): it stays below a committed change while a transaction it
    cannot place (another database's, ended meanwhile) was in flight, and then the next sync
    repeats that change. Tests of an exact sync after sequential writes start from here."""
    latest = latest_change_token(db)
    deadline = time.monotonic() + 10
    while True:
        answer = client.get(path, params={"limit": 0}, headers=person.headers)
        token = int(answer.json()["meta_data"]["sync_token"])
        if token >= latest or time.monotonic() > deadline:
            return token
        time.sleep(0.02)


def _invite(client: httpx.Client, owner: Person, event_id: str, other: Person, **kw: Any) -> dict:
    body = {"event_id": event_id, "subscriber": {"user_id": other.id}, **kw}
    return create(client, owner, "/api/v2/event-subscriptions/", body)


def test_every_change_takes_the_next_global_value(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann, bob = factory.user(), factory.user()
    steps: list[tuple[str, Any]] = []
    before = current_sync_token(db)
    cal = calendar(client, ann)
    steps.append(("calendar", cal["sync_token"]))
    ev = event(client, ann, [cal["id"]])
    steps.append(("event", ev["sync_token"]))
    changed = client.patch(f"/api/v2/events/{ev['id']}/", json={"title": "t"}, headers=ann.headers)
    steps.append(("event patch", changed.json()["data"][0]["sync_token"]))
    share = share_calendar(client, ann, cal["id"], bob, "invited_read")
    steps.append(("share", share["sync_token"]))
    invite = _invite(client, ann, ev["id"], bob)
    steps.append(("invite", invite["sync_token"]))
    renamed = client.patch(
        f"/api/v2/calendars/{cal['id']}/", json={"name": "n"}, headers=ann.headers
    )
    steps.append(("calendar patch", renamed.json()["data"][0]["sync_token"]))
    tokens = [token for _, token in steps]
    meta = renamed.json()["meta_data"]["sync_token"]
    if db.is_sqlite:  # one writer at a time: a counter, and the last change is the current
        assert tokens == list(range(before + 1, before + 1 + len(steps))), steps
        assert meta == tokens[-1]
    else:  # transaction ids (c42.sync): increasing, not consecutive
        assert before < tokens[0] and tokens == sorted(set(tokens)), steps
        # a write reports the watermark below its own, uncommitted change
        assert tokens[-2] <= meta < tokens[-1], (meta, steps)
    assert client.delete(f"/api/v2/events/{ev['id']}/", headers=ann.headers).status_code == 204
    after = current_sync_token(db)
    assert after == tokens[-1] + 1 if db.is_sqlite else after > tokens[-1]


def test_refused_requests_take_no_token(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    before = current_sync_token(db), latest_change_token(db)
    assert (
        client.patch(
            f"/api/v2/events/{ev['id']}/", json={"title": "x"}, headers=bob.headers
        ).status_code
        == 404
    )
    bad = client.patch(
        f"/api/v2/events/{ev['id']}/", json={"start": "2030-01-01T00:00:00Z"}, headers=ann.headers
    )
    assert bad.status_code == 400
    if db.is_sqlite:  # the counter did not move
        assert current_sync_token(db) == before[0]
    # no row took a token (PostgreSQL's watermark follows every transaction of the cluster)
    assert latest_change_token(db) == before[1]


def test_events_sync_returns_exactly_what_changed(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann = factory.user()
    e1, e2, e3 = (event(client, ann, title=f"e{i}") for i in range(3))
    n = _settled(client, ann, "/api/v2/events/", db)
    client.patch(f"/api/v2/events/{e2['id']}/", json={"title": "e2 changed"}, headers=ann.headers)
    e4 = event(client, ann, title="e4")
    assert client.delete(f"/api/v2/events/{e3['id']}/", headers=ann.headers).status_code == 204
    changed, after = _sync(client, ann, "/api/v2/events/", n)
    assert set(changed) == {e2["id"], e4["id"], e3["id"]}
    assert e1["id"] not in changed
    assert changed[e2["id"]]["title"] == "e2 changed"
    assert set(changed[e3["id"]]) == DELETED_SHAPE
    assert changed[e3["id"]]["permission"] == "subscribed_write"
    assert after > n
    # nothing changed since: an empty sync, and the token stays (PostgreSQL: or grows)
    after = max(after, _settled(client, ann, "/api/v2/events/", db))
    again, same = _sync(client, ann, "/api/v2/events/", after)
    assert again == {}
    assert same == after if db.is_sqlite else same >= after
    # without a sync token the deleted event is gone
    assert client.get(f"/api/v2/events/{e3['id']}/", headers=ann.headers).status_code == 404
    listed = client.get("/api/v2/events/", params={"limit": 100}, headers=ann.headers).json()
    assert {e["id"] for e in listed["data"]} == {e1["id"], e2["id"], e4["id"]}


def test_calendars_sync_returns_exactly_what_changed(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann, bob = factory.user(), factory.user()
    c1, c2, c3 = (calendar(client, ann, f"c{i}") for i in range(3))
    share_calendar(client, ann, c1["id"], bob, "invited_read")
    n = _settled(client, ann, "/api/v2/calendars/", db)
    bob_n = n
    client.patch(f"/api/v2/calendars/{c2['id']}/", json={"name": "c2!"}, headers=ann.headers)
    assert client.delete(f"/api/v2/calendars/{c3['id']}/", headers=ann.headers).status_code == 204
    assert client.delete(f"/api/v2/calendars/{c1['id']}/", headers=ann.headers).status_code == 204
    changed, _ = _sync(client, ann, "/api/v2/calendars/", n)
    assert set(changed) == {c1["id"], c2["id"], c3["id"]}
    assert changed[c2["id"]]["name"] == "c2!"
    assert set(changed[c3["id"]]) == DELETED_SHAPE
    assert set(changed[c1["id"]]) == DELETED_SHAPE
    # bob, who had c1 shared, learns that it is gone: id and permission only
    bob_changed, _ = _sync(client, bob, "/api/v2/calendars/", bob_n)
    assert set(bob_changed) == {c1["id"]}
    assert bob_changed[c1["id"]] == {"id": c1["id"], "permission": "invited_read"}
    for gone in (c1, c3):
        assert (
            client.get(f"/api/v2/calendars/{gone['id']}/", headers=ann.headers).status_code == 404
        )
        assert (
            client.get(f"/api/v2/calendars/{gone['id']}/", headers=bob.headers).status_code == 404
        )
    listed = client.get("/api/v2/calendars/", headers=ann.headers).json()["data"]
    assert [c["id"] for c in listed] == [c2["id"]]


def test_event_subscriptions_sync(client: httpx.Client, factory: Factory) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    ev = event(client, ann)
    bob_sub = _invite(client, ann, ev["id"], bob)
    n = bob_sub["sync_token"]
    cyd_sub = _invite(client, ann, ev["id"], cyd)
    answered = client.patch(
        f"/api/v2/event-subscriptions/{bob_sub['id']}/",
        json={"rsvp_status": "attending"},
        headers=bob.headers,
    )
    assert answered.status_code == 200
    assert (
        client.delete(
            f"/api/v2/event-subscriptions/{cyd_sub['id']}/", headers=ann.headers
        ).status_code
        == 204
    )
    changed, _ = _sync(client, ann, "/api/v2/event-subscriptions/", n)
    assert set(changed) == {bob_sub["id"], cyd_sub["id"]}
    assert changed[bob_sub["id"]]["rsvp_status"] == "attending"
    assert changed[bob_sub["id"]]["permission"] == "subscribed_read"
    assert set(changed[cyd_sub["id"]]) == DELETED_SHAPE
    assert changed[cyd_sub["id"]]["permission"] == "removed"
    # cyd, whose invitation was withdrawn, sees that in her own sync too
    cyd_changed, _ = _sync(client, cyd, "/api/v2/event-subscriptions/", n)
    assert cyd_changed == {cyd_sub["id"]: {"id": cyd_sub["id"], "permission": "removed"}}
    cyd_events, _ = _sync(client, cyd, "/api/v2/events/", n)
    assert cyd_events == {ev["id"]: {"id": ev["id"], "permission": "removed"}}
    # without a sync token the withdrawn invitation is gone
    gone = client.get(f"/api/v2/event-subscriptions/{cyd_sub['id']}/", headers=ann.headers)
    assert gone.status_code == 404
    listed = client.get(
        "/api/v2/event-subscriptions/", params={"event_ids": f"[{ev['id']}]"}, headers=ann.headers
    ).json()["data"]
    assert {s["subscriber"]["user_id"] for s in listed} == {ann.id, bob.id}


def test_calendar_subscriptions_sync(client: httpx.Client, factory: Factory) -> None:
    ann, bob, cyd = factory.user(), factory.user(), factory.user()
    cal = calendar(client, ann)
    bob_share = share_calendar(client, ann, cal["id"], bob, "invited_read")
    n = bob_share["sync_token"]
    cyd_share = share_calendar(client, ann, cal["id"], cyd, "invited_write")
    accepted = client.patch(
        f"/api/v2/calendar-subscriptions/{bob_share['id']}/",
        json={"permission": "subscribed_read"},
        headers=bob.headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert (
        client.delete(
            f"/api/v2/calendar-subscriptions/{cyd_share['id']}/", headers=ann.headers
        ).status_code
        == 204
    )
    changed, _ = _sync(client, ann, "/api/v2/calendar-subscriptions/", n)
    assert set(changed) == {bob_share["id"], cyd_share["id"]}
    assert changed[bob_share["id"]]["permission"] == "subscribed_read"
    assert changed[cyd_share["id"]] == {"id": cyd_share["id"], "permission": "removed"}
    # cyd sees her share withdrawn, in calendar subscriptions and in calendars
    cyd_subs, _ = _sync(client, cyd, "/api/v2/calendar-subscriptions/", n)
    assert cyd_subs == {cyd_share["id"]: {"id": cyd_share["id"], "permission": "removed"}}
    cyd_cals, _ = _sync(client, cyd, "/api/v2/calendars/", n)
    assert cyd_cals == {cal["id"]: {"id": cal["id"], "permission": "removed"}}
    gone = client.get(f"/api/v2/calendar-subscriptions/{cyd_share['id']}/", headers=ann.headers)
    assert gone.status_code == 404
    assert client.get(f"/api/v2/calendars/{cal['id']}/", headers=cyd.headers).status_code == 404


def test_calendar_share_and_unshare_reach_the_events_sync(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    """An event becoming visible (or invisible) through a calendar is a change for the user
    even though the event itself did not change."""
    ann, bob = factory.user(), factory.user()
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    _, n = _sync(client, bob, "/api/v2/events/", 0)
    n = max(n, _settled(client, bob, "/api/v2/events/", db))
    share = share_calendar(client, ann, cal["id"], bob, "invited_read")
    changed, n2 = _sync(client, bob, "/api/v2/events/", n)
    n2 = max(n2, _settled(client, bob, "/api/v2/events/", db))
    assert set(changed) == {ev["id"]}
    assert changed[ev["id"]]["permission"] == "invited_read"
    assert changed[ev["id"]]["calendar_ids"] == [cal["id"]]
    client.delete(f"/api/v2/calendar-subscriptions/{share['id']}/", headers=ann.headers)
    changed, n3 = _sync(client, bob, "/api/v2/events/", n2)
    assert changed == {ev["id"]: {"id": ev["id"], "permission": "removed"}}
    n3 = max(n3, _settled(client, bob, "/api/v2/events/", db))
    # shared again, then the calendar is deleted: bob loses the event with it
    share_calendar(client, ann, cal["id"], bob, "invited_write")
    changed, n4 = _sync(client, bob, "/api/v2/events/", n3)
    assert changed[ev["id"]]["permission"] == "invited_write"
    n4 = max(n4, _settled(client, bob, "/api/v2/events/", db))
    assert client.delete(f"/api/v2/calendars/{cal['id']}/", headers=ann.headers).status_code == 204
    changed, _ = _sync(client, bob, "/api/v2/events/", n4)
    assert changed == {ev["id"]: {"id": ev["id"], "permission": "removed"}}
    # ann keeps the event (direct subscription); its calendar_ids changed, so she sees it too
    ann_changed, _ = _sync(client, ann, "/api/v2/events/", n4)
    assert ann_changed[ev["id"]]["calendar_ids"] == []


def test_removed_direct_subscription_is_a_removed_event_in_sync(
    client: httpx.Client, factory: Factory, db: Database
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    sub = _invite(client, ann, ev["id"], bob, permission="invited_write")
    _, n = _sync(client, bob, "/api/v2/events/", 0)
    n = max(n, _settled(client, bob, "/api/v2/events/", db))
    client.patch(
        f"/api/v2/event-subscriptions/{sub['id']}/",
        json={"permission": "removed"},
        headers=ann.headers,
    )
    changed, _ = _sync(client, bob, "/api/v2/events/", n)
    assert changed == {ev["id"]: {"id": ev["id"], "permission": "removed"}}
    assert client.get(f"/api/v2/events/{ev['id']}/", headers=bob.headers).status_code == 404


def test_sync_never_misses_a_change_under_concurrent_writers(server: Any, factory: Factory) -> None:
    """Writers create and change events in a calendar shared with a reader, who syncs over and
    over with `meta_data.sync_token`; at the end the reader has every event, in its last
    version."""
    ann, bob = factory.user(prefix="writer"), factory.user(prefix="reader")
    http = httpx.Client(base_url=server.url, timeout=60, verify=False)  # noqa: S501
    cal = calendar(http, ann)
    share_calendar(http, ann, cal["id"], bob, "invited_read")
    writers, per_writer = 4, 12
    created: list[str] = []
    final_titles: dict[str, str] = {}
    lock = threading.Lock()
    done = threading.Event()
    errors: list[str] = []

    def write(w: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60, verify=False) as c:  # noqa: S501
            mine: list[str] = []
            for i in range(per_writer):
                r = c.post(
                    "/api/v2/events/",
                    json={"event_type": "todo", "title": f"w{w}-{i}", "calendar_ids": [cal["id"]]},
                    headers=ann.headers,
                )
                if r.status_code != 201:
                    errors.append(r.text)
                    return
                mine.append(r.json()["data"][0]["id"])
                with lock:
                    created.append(mine[-1])
                    final_titles[mine[-1]] = f"w{w}-{i}"
                if i % 3 == 2:  # change an earlier one of ours: it moves to a later token
                    target = mine[i // 2]
                    title = f"w{w}-{i}-changed"
                    r = c.patch(
                        f"/api/v2/events/{target}/", json={"title": title}, headers=ann.headers
                    )
                    if r.status_code != 200:
                        errors.append(r.text)
                        return
                    with lock:
                        final_titles[target] = title

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()

    seen: dict[str, dict[str, Any]] = {}
    token = 0
    syncs = 0
    try:
        while True:
            finished = all(not t.is_alive() for t in threads)
            changed, token = _sync(http, bob, "/api/v2/events/", token, limit=5)
            seen.update(changed)
            syncs += 1
            if finished:  # one full sync after the last write
                break
    finally:
        done.set()
        for t in threads:
            t.join()
        http.close()
    assert not errors, errors[:3]
    assert len(created) == writers * per_writer
    missing = set(created) - set(seen)
    assert not missing, f"{len(missing)} events never seen in {syncs} syncs"
    stale = {
        i: (seen[i].get("title"), t) for i, t in final_titles.items() if seen[i].get("title") != t
    }
    assert not stale, stale


def test_subscriptions_of_a_deleted_event_or_calendar_sync_as_deleted(
    client: httpx.Client, factory: Factory
) -> None:
    ann, bob = factory.user(), factory.user()
    ev = event(client, ann)
    invite = _invite(client, ann, ev["id"], bob)
    cal = calendar(client, ann)
    share = share_calendar(client, ann, cal["id"], bob, "invited_read")
    _, n = _sync(client, ann, "/api/v2/event-subscriptions/", 0)
    assert client.delete(f"/api/v2/events/{ev['id']}/", headers=ann.headers).status_code == 204
    assert client.delete(f"/api/v2/calendars/{cal['id']}/", headers=ann.headers).status_code == 204
    for person in (ann, bob):
        subs, _ = _sync(client, person, "/api/v2/event-subscriptions/", n)
        assert invite["id"] in subs
        assert all(set(s) == DELETED_SHAPE for s in subs.values()), subs
        shares, _ = _sync(client, person, "/api/v2/calendar-subscriptions/", n)
        assert share["id"] in shares
        assert all(set(s) == DELETED_SHAPE for s in shares.values()), shares
        listed = client.get("/api/v2/event-subscriptions/", headers=person.headers).json()
        assert invite["id"] not in [s["id"] for s in listed["data"]]


def test_a_stranger_syncs_nothing_of_others(client: httpx.Client, factory: Factory) -> None:
    ann, eve = factory.user(), factory.user()
    _, n = _sync(client, eve, "/api/v2/events/", 0)
    cal = calendar(client, ann)
    ev = event(client, ann, [cal["id"]])
    sub = _invite(client, ann, ev["id"], factory.user())
    client.delete(f"/api/v2/events/{ev['id']}/", headers=ann.headers)
    client.delete(f"/api/v2/calendars/{cal['id']}/", headers=ann.headers)
    for path in (
        "/api/v2/events/",
        "/api/v2/calendars/",
        "/api/v2/event-subscriptions/",
        "/api/v2/calendar-subscriptions/",
    ):
        changed, _ = _sync(client, eve, path, n)
        assert not {ev["id"], cal["id"], sub["id"]} & set(changed), path
