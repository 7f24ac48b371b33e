"""The OpenID Connect tests' server: the real app whose issuer is its own address (relying
parties check `iss` against the discovery document and the URL they fetched it from), and the
OAuth tests' fixtures on top of it (a service, its user with a logged-in browser, apps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer, _free_port
from tests.oauth.conftest import (  # noqa: F401  (pytest fixtures)
    anonymous,
    browser,
    fresh_browser,
    native_app,
    person,
    service_id,
    web_app,
)


class IssuerServer(LiveServer):
    """A LiveServer whose issuer is the address it listens on."""

    def __init__(self, settings: Settings, db: Database) -> None:
        port = _free_port()
        super().__init__(settings.model_copy(update={"issuer": f"http://127.0.0.1:{port}"}), db)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server.config.port = port


@pytest.fixture(scope="module")
def server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = IssuerServer(settings, db)
    live.start()
    yield live
    live.stop()
