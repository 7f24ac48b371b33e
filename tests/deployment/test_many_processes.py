"""Many processes (SPEC §7): two real `c42 serve` processes, A and B, on one PostgreSQL and one
Redis. A revocation made through one is honoured by the other at once — well before B's cached
look-up of the credential expires (1 s), which only the eviction bus can do; the login rate
limit is one limit for both; a browser flow hops from one to the other. While Redis is away,
each process falls back to in-process (one warning), revocations still end within the cache
time, and when Redis returns the processes use it again by themselves.

The PostgreSQL cluster and the redis-server are private to this module (services.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from c42.cli.main import main as c42_main
from c42.db import Database
from c42.settings import Settings, get_settings
from tests.deployment.services import (
    SECRET_KEY,
    PrivatePostgres,
    PrivateRedis,
    ServeProcess,
    free_port,
    needs_postgres_pass,
    serve_env,
)
from tests.factories import Factory, Person
from tests.oauth.helpers import PASSWORD, App, Browser, exchange, make_app, pkce, query_of
from tests.ratelimit_windows import wait_for_fresh_window
from tests.web.helpers import csrf_from, link_in, log_in, path_of, submit, wait_for_mail

pytestmark = needs_postgres_pass
CACHE_SECONDS = 1.0  # C42_TOKEN_CACHE_SECONDS of both processes
LOGIN_LIMIT = 4  # C42_RATE_LIMIT_LOGIN of both processes: 4 per hour
REDIS_DOWN = "Redis unavailable"
REDIS_BACK = "Redis is back"


@dataclass
class Deployment:
    a: ServeProcess
    b: ServeProcess
    redis: PrivateRedis
    db: Database
    settings: Settings
    factory: Factory
    env: dict[str, str]

    def client(self, process: ServeProcess) -> httpx.Client:
        return httpx.Client(base_url=process.url, timeout=30, follow_redirects=False)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("many")
    cluster = PrivatePostgres()
    store = PrivateRedis()
    processes: list[ServeProcess] = []
    try:
        cluster.start()
        store.start()
        url = cluster.migrated_database("c42_many")
        port_a = free_port()
        env = serve_env(url, store.url, workdir, issuer=f"http://127.0.0.1:{port_a}")
        processes = [
            ServeProcess("a", env, workdir, port_a),
            ServeProcess("b", env, workdir, free_port()),
        ]
        for process in processes:
            process.wait_ready()
        settings = Settings(database_url=url, secret_key=SECRET_KEY, redis_url=store.url)
        db = Database(url)
        yield Deployment(*processes, store, db, settings, Factory(db, settings), env)
        db.dispose()
    finally:
        for process in processes:
            process.stop()
        store.stop()
        cluster.destroy()


@pytest.fixture
def site(deployment: Deployment) -> Deployment:
    """Fresh rate-limit counters (every test logs in from 127.0.0.1)."""
    redis.Redis.from_url(deployment.redis.url).flushdb()
    return deployment


def refused_before_expiry(
    call_b: Callable[[], httpx.Response], revoke_through_a: Callable[[], None]
) -> tuple[httpx.Response, float]:
    """B looks the credential up and caches it; A revokes it; B must refuse it before that
    cached look-up expires. Returns B's refusal and how long after caching it came."""
    cached_at = time.monotonic()
    assert call_b().status_code == 200  # B has looked it up: cached for CACHE_SECONDS
    revoke_through_a()
    while True:
        answer = call_b()
        elapsed = time.monotonic() - cached_at
        # Refused after CACHE_SECONDS proves nothing: the cached look-up may just have expired.
        assert elapsed < CACHE_SECONDS, f"B honoured the revoked credential for {elapsed:.2f} s"
        if answer.status_code != 200:
            return answer, elapsed
        time.sleep(0.01)


def calendars(client: httpx.Client, headers: dict[str, str]) -> Callable[[], httpx.Response]:
    return lambda: client.get("/api/v2/calendars/", headers=headers)


def assert_refused(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == code


def test_a_user_token_revoked_through_one_process_is_refused_by_the_other_at_once(
    site: Deployment,
) -> None:
    person = site.factory.user()
    with site.client(site.a) as a, site.client(site.b) as b:
        token_id = a.get("/api/v2/user-tokens/", headers=person.headers).json()["data"][0]["id"]

        def revoke() -> None:
            assert (
                a.delete(f"/api/v2/user-tokens/{token_id}/", headers=person.headers).status_code
                == 204
            )

        answer, _ = refused_before_expiry(calendars(b, person.headers), revoke)
    assert_refused(answer, "invalid_token")


def test_a_user_deactivated_with_the_cli_is_refused_by_every_process_at_once(
    site: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`c42 user deactivate`, a third process: it publishes the eviction after its commit."""
    person = site.factory.user()
    for name, value in site.env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with site.client(site.b) as b:
            answer, _ = refused_before_expiry(
                calendars(b, person.headers),
                lambda: _check(c42_main(["user", "deactivate", person.email]) == 0),
            )
    finally:
        get_settings.cache_clear()
    assert_refused(answer, "inactive_user")


def _check(condition: bool) -> None:
    assert condition


def _connected(site: Deployment, person: Person) -> tuple[App, Browser, dict[str, str]]:
    """An app the person allowed: logged in on A, consent answered on B (the flow hops), the
    code exchanged on B. Returns the app, the browser (its session works on both) and the
    token response."""
    service_id = site.factory.service("Hopping")
    app = make_app(site.db, site.settings, service_id)
    verifier, challenge = pkce()
    on_a = Browser(site.client(site.a))
    on_a.login(person)
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "hop",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = on_a.authorize(params)  # served by A
    on_b = Browser(site.client(site.b))
    on_b.http.cookies = on_a.http.cookies  # the same browser, now talking to B
    answer = on_b.consent(page, "allow")  # posted to B
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == "hop" and "code" in query
    tokens = exchange(on_b.http, app, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    return app, on_a, tokens.json()


def test_a_browser_flow_hops_between_processes(site: Deployment) -> None:
    person = site.factory.user(password=PASSWORD)
    _app, browser, pair = _connected(site, person)
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    with site.client(site.a) as a, site.client(site.b) as b:
        assert a.get("/api/v2/calendars/", headers=bearer).status_code == 200
        assert b.get("/api/v2/calendars/", headers=bearer).status_code == 200
    browser.http.close()


def test_an_oauth_token_revoked_through_one_process_is_refused_by_the_other_at_once(
    site: Deployment,
) -> None:
    person = site.factory.user(password=PASSWORD)
    app, browser, pair = _connected(site, person)
    browser.http.close()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    with site.client(site.a) as a, site.client(site.b) as b:

        def revoke() -> None:  # RFC 7009 at A
            form = {"token": pair["access_token"], "token_type_hint": "access_token"}
            assert a.post("/oauth2/revoke/", data=form, auth=app.auth).status_code == 200

        answer, _ = refused_before_expiry(calendars(b, bearer), revoke)
    assert_refused(answer, "invalid_token")


def test_an_app_disconnected_on_one_process_is_refused_by_the_other_at_once(
    site: Deployment,
) -> None:
    person = site.factory.user(password=PASSWORD)
    app, browser, pair = _connected(site, person)
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    token = csrf_from(browser.http.get("/account/apps/").text)
    with site.client(site.b) as b:

        def disconnect() -> None:  # /account/apps/ on A
            answer = browser.http.post(
                f"/account/apps/{app.id}/revoke/", data={"csrf_token": token}
            )
            assert answer.status_code == 303, answer.text

        answer, _ = refused_before_expiry(calendars(b, bearer), disconnect)
    browser.http.close()
    assert_refused(answer, "invalid_token")


def test_a_password_reset_on_one_process_ends_the_oauth_tokens_on_the_other_at_once(
    site: Deployment,
) -> None:
    person = site.factory.user(password=PASSWORD)
    _app, browser, pair = _connected(site, person)
    browser.http.close()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    outbox = Path(site.env["C42_OUTBOX_DIR"])
    with site.client(site.a) as a, site.client(site.b) as b:
        assert submit(a, "/accounts/password-reset/", {"email": person.email}).status_code == 200
        link = path_of(link_in(wait_for_mail(outbox, person.email, "Reset")))
        token = csrf_from(a.get(link).text)

        def reset() -> None:  # the new password, set on A
            answer = a.post(link, data={"password": "a brand new password", "csrf_token": token})
            assert answer.status_code == 303, answer.text

        answer, _ = refused_before_expiry(calendars(b, bearer), reset)
    assert_refused(answer, "invalid_token")


def test_the_login_limit_is_one_limit_across_processes(site: Deployment) -> None:
    person = site.factory.user(password=PASSWORD)
    wait_for_fresh_window(3600, 30)  # the limit counts per fixed hour
    with site.client(site.a) as a, site.client(site.b) as b:
        for client in (a, b) * (LOGIN_LIMIT // 2):  # half on A, half on B
            assert log_in(client, person.email, "wrong password").status_code == 400
        # Each process saw only half: counted in one place, the limit is reached on both.
        for client in (a, b):
            refused = log_in(client, person.email, PASSWORD)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) > 0
    store = redis.Redis.from_url(site.redis.url)
    assert store.keys("c42:rl:login:*")  # counted in the shared Redis


def test_while_redis_is_down_processes_fall_back_and_use_it_again_when_it_returns(
    site: Deployment,
) -> None:
    """Kept last: it stops the module's Redis (and starts it again)."""
    wait_for_fresh_window(3600, 30)  # the limit counts per fixed hour
    warned = {p: p.output().count(REDIS_DOWN) for p in (site.a, site.b)}
    site.redis.stop()
    try:
        # Revocations: B has no way to hear of it; its cached look-up expires (the bound).
        person = site.factory.user()
        with site.client(site.a) as a, site.client(site.b) as b:
            token_id = a.get("/api/v2/user-tokens/", headers=person.headers).json()["data"][0]["id"]
            cached_at = time.monotonic()
            assert b.get("/api/v2/calendars/", headers=person.headers).status_code == 200
            assert (
                a.delete(f"/api/v2/user-tokens/{token_id}/", headers=person.headers).status_code
                == 204
            )
            assert a.get("/api/v2/calendars/", headers=person.headers).status_code == 401  # at once
            while b.get("/api/v2/calendars/", headers=person.headers).status_code == 200:
                time.sleep(0.01)
            honoured = time.monotonic() - cached_at
            assert CACHE_SECONDS - 0.05 <= honoured < CACHE_SECONDS + 0.5

            # Login limits: each process counts on its own now.
            limited = site.factory.user(password=PASSWORD)
            for _ in range(LOGIN_LIMIT):
                assert log_in(a, limited.email, "wrong password").status_code == 400
            assert log_in(a, limited.email, PASSWORD).status_code == 429
            assert log_in(b, limited.email, PASSWORD).status_code == 303  # B counted one
        for process in (site.a, site.b):  # many failed uses of Redis, one warning each
            assert process.output().count(REDIS_DOWN) == warned[process] + 1, process.output()
    finally:
        site.redis.start()

    # Back: both processes find Redis again by themselves (after their back-off).
    person = site.factory.user()
    with site.client(site.a) as a, site.client(site.b) as b:
        deadline = time.monotonic() + 15
        while not all(REDIS_BACK in p.output() for p in (site.a, site.b)):
            assert log_in(a, "nobody@example.com", "x").status_code in (400, 429)
            assert time.monotonic() < deadline, "a process did not use Redis again"
            time.sleep(0.2)
        token_id = a.get("/api/v2/user-tokens/", headers=person.headers).json()["data"][0]["id"]

        def revoke() -> None:
            assert (
                a.delete(f"/api/v2/user-tokens/{token_id}/", headers=person.headers).status_code
                == 204
            )

        answer, _ = refused_before_expiry(calendars(b, person.headers), revoke)
        assert_refused(answer, "invalid_token")
        assert log_in(b, "nobody@example.com", "x").status_code == 400
    store = redis.Redis.from_url(site.redis.url)
    assert store.keys("c42:rl:login:*")  # the limits count in Redis again
