"""Rate limits on login, registration, password reset and the API's password login
(SPEC §6): 429 with Retry-After, per client IP and per account, in-process or through Redis.

These tests run their own server with small limits; the shared server's limits are high so
that other tests never meet them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from starlette.requests import Request

from c42.db import Database
from c42.ratelimit import RateLimited, RateLimiter, parse_rate
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.web.helpers import PASSWORD, browser, is_logged_in, log_in, submit

LIMIT = 3
# Fixed windows are aligned to the clock: a test's few attempts straddled a 60 s boundary now
# and then (the count restarted and the 429 never came). An hour makes that ~60x rarer.
WINDOW = 3600
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def limited(settings: Settings, db: Database) -> Iterator[LiveServer]:
    small = settings.model_copy(update={"rate_limit_login": f"{LIMIT}/{WINDOW}"})
    live = LiveServer(small, db)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def fresh_limits(limited: LiveServer) -> LiveServer:
    """New counters for each test (all requests come from 127.0.0.1)."""
    state = limited.app.state
    state.login_limiter = RateLimiter("login", LIMIT, WINDOW)
    state.account_mail_limiter = RateLimiter("account-mail", LIMIT, WINDOW)
    return limited


def assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW


def test_login_is_limited_even_with_the_right_password(
    fresh_limits: LiveServer, factory: Factory
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(fresh_limits.url) as client:
        for _ in range(LIMIT):
            assert log_in(client, person.email, "wrong password").status_code == 400
        response = log_in(client, person.email, PASSWORD)
        assert_429(response)
        assert "Too many attempts" in response.text
        assert 'id="login-form"' in response.text  # the page, with the form, for a person
        assert response.headers["x-frame-options"] == "DENY"
        assert not is_logged_in(client)


def test_registration_and_reset_requests_are_limited(fresh_limits: LiveServer) -> None:
    email = unique_email("limited")
    with browser(fresh_limits.url) as client:
        data = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
        for _ in range(LIMIT):
            assert submit(client, "/accounts/register/", data).status_code == 200
        assert_429(submit(client, "/accounts/register/", data))
        assert_429(submit(client, "/accounts/password-reset/", {"email": email}))


def test_api_password_login_is_limited_with_the_error_envelope(
    fresh_limits: LiveServer, factory: Factory
) -> None:
    person = factory.user(password=PASSWORD)
    with httpx.Client(base_url=fresh_limits.url) as client:
        body = {"email": person.email, "password": "wrong"}
        for _ in range(LIMIT):
            assert client.post("/api/v2/user-tokens/", json=body).status_code == 401
        response = client.post("/api/v2/user-tokens/", json=body)
    assert_429(response)
    assert response.json()["error"]["code"] == "rate_limited"


def _request(ip: str) -> Request:
    return Request(
        {"type": "http", "method": "POST", "path": "/", "headers": [], "client": (ip, 1234)}
    )


def test_the_account_key_is_counted_across_addresses() -> None:
    limiter = RateLimiter("unit", 2, 60)
    limiter.hit_or_raise(_request("10.0.0.1"), "Ann@Example.com")
    limiter.hit_or_raise(_request("10.0.0.2"), "ann@example.com")  # one account, any case
    with pytest.raises(RateLimited) as raised:
        limiter.hit_or_raise(_request("10.0.0.3"), "ann@example.com")
    assert raised.value.status_code == 429
    assert 1 <= int(raised.value.headers["Retry-After"]) <= 60
    limiter.hit_or_raise(_request("10.0.0.3"), "bob@example.com")  # others are unaffected


def test_the_address_is_counted_across_accounts() -> None:
    limiter = RateLimiter("unit", 2, 60)
    limiter.hit_or_raise(_request("10.0.0.9"), "a@example.com")
    limiter.hit_or_raise(_request("10.0.0.9"), "b@example.com")
    with pytest.raises(RateLimited):
        limiter.hit_or_raise(_request("10.0.0.9"), "c@example.com")


def test_parse_rate() -> None:
    assert parse_rate("10/60") == (10, 60)
    for bad in ("0/60", "10/0", "x/60", "-1/5"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return client


def test_redis_shares_the_counters_between_processes() -> None:
    store = _redis_or_skip()
    prefix = f"c42test:{uuid.uuid4().hex}"
    first = RateLimiter("login", 2, 60, REDIS_URL, prefix=prefix)
    second = RateLimiter("login", 2, 60, REDIS_URL, prefix=prefix)  # another process
    first.hit_or_raise(_request("10.1.0.1"), "ann@example.com")
    second.hit_or_raise(_request("10.1.0.2"), "ann@example.com")
    with pytest.raises(RateLimited):
        first.hit_or_raise(_request("10.1.0.3"), "ann@example.com")
    keys = [k.decode() for k in store.scan_iter(match=f"{prefix}:*")]
    assert keys and all(0 < int(store.ttl(k)) <= 61 for k in keys)
    assert not any("ann" in key for key in keys)  # account keys are hashed
    store.delete(*keys)


def test_the_server_limits_through_redis(limited: LiveServer, factory: Factory) -> None:
    store = _redis_or_skip()
    prefix = f"c42test:{uuid.uuid4().hex}"
    limited.app.state.login_limiter = RateLimiter("login", LIMIT, 60, REDIS_URL, prefix=prefix)
    person = factory.user(password=PASSWORD)
    with browser(limited.url) as client:
        for _ in range(LIMIT):
            assert log_in(client, person.email, "wrong password").status_code == 400
        assert_429(log_in(client, person.email, PASSWORD))
    keys = list(store.scan_iter(match=f"{prefix}:login:*"))
    assert len(keys) == 2  # one per IP, one per account
    assert sorted(int(store.get(k) or 0) for k in keys) == [LIMIT + 1, LIMIT + 1]
    store.delete(*keys)


def test_without_reachable_redis_the_limit_holds_in_process() -> None:
    limiter = RateLimiter("unit", 1, 60, "redis://127.0.0.1:1/0", prefix="c42test")
    limiter.hit_or_raise(_request("10.2.0.1"), None)
    with pytest.raises(RateLimited):
        limiter.hit_or_raise(_request("10.2.0.1"), None)
