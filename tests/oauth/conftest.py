"""Fixtures of the OAuth tests: a service with a user subscribed to it, a confidential web app
and a public native app under that service, and a browser logged in as that user.

The user, its service and its logged-in browser are shared by the tests of one module (an
argon2 hash and a login cost about a second each); every test registers its own apps, and
consents and tokens are per (app, user), so tests stay independent. Tests that need a user
of their own (limits per user, the connected-apps list) make one with `fresh_browser`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import App, Browser, make_app, new_browser, person_with_password
from tests.ops.processes import Served, environment


@pytest.fixture(scope="module")
def person(db: Database, settings: Settings) -> Person:
    return person_with_password(Factory(db, settings))


@pytest.fixture(scope="module")
def service_id(db: Database, settings: Settings, person: Person) -> str:
    factory = Factory(db, settings)
    sid = factory.service("OAuth Test Service")
    factory.subscribe(sid, person)
    return sid


@pytest.fixture
def web_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id)


@pytest.fixture
def native_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, public=True)


@pytest.fixture(scope="module")
def browser(server: LiveServer, person: Person) -> Iterator[Browser]:
    b = new_browser(server.url)
    b.login(person)
    yield b
    b.http.close()


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[Browser]:
    b = new_browser(server.url)
    yield b
    b.http.close()


@pytest.fixture
def fresh_browser(server: LiveServer, factory: Factory) -> Iterator[Callable[[], Browser]]:
    """A new user with a browser logged in as them."""
    opened: list[Browser] = []

    def make() -> Browser:
        b = new_browser(server.url)
        b.login(person_with_password(factory))
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.http.close()


@pytest.fixture(scope="package")
def nonce_served(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real `c42 serve` on the test database, its issuer its own address, DPoP nonces
    required (C42_DPOP_REQUIRE_NONCE): the DPoP client-library tests share it."""
    root = tmp_path_factory.mktemp("dpop-serve")
    env = environment(
        root,
        settings.database_url,
        C42_SECRET_KEY=settings.secret_key,
        C42_DPOP_REQUIRE_NONCE="true",
    )
    process = Served(root, env)
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.terminate()
