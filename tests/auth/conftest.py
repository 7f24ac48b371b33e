"""Fixtures of the authentication tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """The suite's `client` without loading a CA bundle: plain HTTP on loopback."""
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield http
