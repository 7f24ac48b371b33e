"""SPEC §5.2 with §6's concurrency rule: a token with max_uses = 1 hit by 20 parallel requests
succeeds exactly once (one atomic UPDATE per use, on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.action_tokens.helpers import BASE, EVENT, action, create_token, grant
from tests.conftest import LiveServer
from tests.factories import Factory, event

PARALLEL = 20


def test_twenty_parallel_requests_on_a_single_use_token(
    client: httpx.Client, factory: Factory, server: LiveServer
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    created = create_token(client, ann, [grant("GET", EVENT, id=ev["id"])], max_uses=1)
    start = threading.Barrier(PARALLEL)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as own:
            start.wait()
            response = own.get(f"/api/v2/events/{ev['id']}/", headers=action(created["token"]))
            return response.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(attempt, range(PARALLEL)))
    assert sorted(statuses) == [200] + [401] * (PARALLEL - 1), statuses
    meta = client.get(f"{BASE}{created['id']}/", headers=ann.headers).json()["data"][0]
    assert meta["use_count"] == 1


def test_parallel_requests_on_a_three_use_token(
    client: httpx.Client, factory: Factory, server: LiveServer
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    created = create_token(client, ann, [grant("GET", EVENT, id=ev["id"])], max_uses=3)
    start = threading.Barrier(PARALLEL)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as own:
            start.wait()
            return own.get(
                f"/api/v2/events/{ev['id']}/", headers=action(created["token"])
            ).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(attempt, range(PARALLEL)))
    assert statuses.count(200) == 3 and statuses.count(401) == PARALLEL - 3, statuses
