"""Where an audit record says a request came from (SPEC §8) is the peer's address unless
`c42 serve --proxy-headers` trusts a proxy: without it, X-Forwarded-For, X-Real-IP and
Forwarded from a client are ignored (tests/ops/test_proxy.py covers the trusted proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from c42.db import Database
from c42.migrate import upgrade
from c42.models import AuditEvent
from tests.ops.processes import environment, own_database, serving
from tests.web.helpers import csrf_from

SPOOFED = {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "7.7.7.7", "Forwarded": "for=8.8.8.8"}


@pytest.fixture
def place(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with own_database(tmp_path) as url:
        upgrade(url)
        yield tmp_path, url


def test_forwarded_headers_do_not_reach_the_audit_log(place: tuple[Path, str]) -> None:
    root, url = place
    with (
        serving(root, environment(root, url)) as served,
        httpx.Client(base_url=served.url, timeout=10, headers={"Accept": "text/html"}) as web,
    ):
        token = csrf_from(web.get("/accounts/login/").text)
        form = {"csrf_token": token, "email": "nobody@example.com", "password": "x" * 12}
        answer = web.post("/accounts/login/", data=form, headers=SPOOFED)
        assert answer.status_code == 400, answer.text
    database = Database(url)
    try:
        with database.session(write=False) as session:
            ips = session.scalars(
                select(AuditEvent.ip).where(AuditEvent.type == "login_failed")
            ).all()
    finally:
        database.dispose()
    assert ips == ["127.0.0.1"]
