"""Fixtures of the silent OAuth tests: a service with a silent app (per test), over the shared
live server."""

from __future__ import annotations

import pytest

from c42.db import Database
from c42.settings import Settings
from tests.factories import Factory
from tests.silent.helpers import App, make_app


@pytest.fixture
def service_id(factory: Factory) -> str:
    return factory.service("Silent Test Service")


@pytest.fixture
def app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id)
