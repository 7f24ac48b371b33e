"""Fixtures of the resource API tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """Like the suite's `client`, without loading a CA bundle (~80 ms per client): the live
    server speaks plain HTTP on loopback, and the table-driven tests here make many clients."""
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield http
