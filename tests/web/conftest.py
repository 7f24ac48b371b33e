"""Fixtures for the page tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from c42.settings import Settings
from tests.conftest import LiveServer
from tests.web.helpers import browser


@pytest.fixture
def web(server: LiveServer) -> Iterator[httpx.Client]:
    """A browser-like client on the shared server: keeps cookies, does not follow redirects."""
    with browser(server.url) as client:
        yield client


@pytest.fixture
def outbox(settings: Settings) -> Path:
    return Path(settings.outbox_dir)
