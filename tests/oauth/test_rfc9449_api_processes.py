"""RFC 9449 §11.1 across processes (SPEC §11: "a replayed jti (across processes)"): two real
`c42 serve` processes on the test database share the jti cache through Redis
(C42_REDIS_URL, the shared redis-server on 6379: the test only adds short-lived keys), so a
proof accepted by one is refused by the other. The control: the test's own server, which has
no Redis, accepts a proof and leaves no trace in Redis, so the same proof then passes a Redis
process too — the limitation docs/device-and-dpop.md states for deployments without Redis.
On SQLite and on PostgreSQL (`C42_TEST_DATABASE_URL`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from c42.db import Database
from c42.settings import Settings
from tests.dpop_helpers import make_key, proof_for_token
from tests.oauth.helpers import App, Browser, access_token
from tests.oauth.test_rfc9449_api import API, bind, dpop, url_of
from tests.ops.processes import Served, environment

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def pair(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Served]]:
    """Two `c42 serve` processes with one issuer (so one htu) and Redis."""
    if not _redis_answers():
        pytest.skip(f"no Redis at {REDIS_URL}")
    root = tmp_path_factory.mktemp("dpop-processes")
    env = environment(
        root,
        settings.database_url,
        C42_SECRET_KEY=settings.secret_key,
        C42_ISSUER=settings.issuer,  # htu is checked against the issuer's origin
        C42_REDIS_URL=REDIS_URL,
    )
    served = [Served(root, env), Served(root, env)]
    try:
        for one in served:
            one.wait_ready(timeout=120)
        yield served
    finally:
        for one in served:
            one.terminate()


def test_a_proof_used_on_one_process_is_refused_by_the_other(
    pair: list[Served],
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    db: Database,
    settings: Settings,
) -> None:
    token = access_token(client, browser, native_app, "service.read")
    key = make_key()
    bind(db, token, key)
    first, second = pair
    for sender, replayer in ((first, second), (second, first)):
        once = proof_for_token(key, "GET", url_of(settings, API), token)
        accepted = httpx.get(sender.url + API, headers=dpop(token, once), timeout=30)
        assert accepted.status_code == 200, accepted.text
        replayed = httpx.get(replayer.url + API, headers=dpop(token, once), timeout=30)
        assert replayed.status_code == 401, replayed.text
        assert replayed.json()["error"]["code"] == "invalid_dpop_proof"
        assert "jti" in replayed.json()["error"]["message"]
        assert 'error="invalid_dpop_proof"' in replayed.headers["www-authenticate"]


def test_without_redis_the_cache_is_per_process(
    pair: list[Served],
    client: httpx.Client,
    browser: Browser,
    native_app: App,
    db: Database,
    settings: Settings,
) -> None:
    token = access_token(client, browser, native_app, "service.read")
    key = make_key()
    bind(db, token, key)
    once = proof_for_token(key, "GET", url_of(settings, API), token)
    assert client.get(API, headers=dpop(token, once)).status_code == 200  # no Redis here
    assert client.get(API, headers=dpop(token, once)).status_code == 401  # same process
    elsewhere = httpx.get(pair[0].url + API, headers=dpop(token, once), timeout=30)
    assert elsewhere.status_code == 200, elsewhere.text  # the per-process limitation
