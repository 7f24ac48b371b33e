"""SPEC §8: the admin console does not exist for anyone but staff. An unknown path answers
404; so must every console path with any method (a 405 with `Allow` would tell that the
console is there, and which actions it has), for anonymous and non-staff callers alike.
Staff callers still get the 405 (RFC 9110 §15.5.6)."""

from __future__ import annotations

import httpx
import pytest

from tests.admin.test_admin_console import cli, console, staff  # noqa: F401 (fixtures)
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import PASSWORD
from tests.web.helpers import browser, log_in

PROBES = [
    ("PUT", "/admin/"),
    ("OPTIONS", "/admin/"),
    ("DELETE", "/admin/apps/"),
    ("GET", "/admin/apps/some-client/rotate-secret/"),
    ("GET", "/admin/users/some-user/deactivate/"),
    ("PATCH", "/admin/users/some-user/"),
    ("GET", "/admin/users/some-user/token/some-id/revoke/"),
]


def _same_as_unknown(web: httpx.Client, method: str, path: str) -> None:
    unknown = web.request(method, "/no-such-page/")
    answer = web.request(method, path)
    assert unknown.status_code == 404
    assert answer.status_code == 404, (method, path, answer.status_code, answer.text[:200])
    assert "allow" not in answer.headers
    assert answer.headers.get("content-type") == unknown.headers.get("content-type")


@pytest.mark.parametrize(("method", "path"), PROBES)
def test_anonymous_gets_404_for_any_method(server: LiveServer, method: str, path: str) -> None:
    with browser(server.url) as web:
        _same_as_unknown(web, method, path)


@pytest.mark.parametrize(("method", "path"), PROBES)
def test_non_staff_gets_404_for_any_method(
    server: LiveServer, factory: Factory, method: str, path: str
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as web:
        assert log_in(web, person.email, PASSWORD).status_code == 303
        _same_as_unknown(web, method, path)


def test_staff_still_gets_405(console: httpx.Client) -> None:  # noqa: F811
    answer = console.request("PUT", "/admin/")
    assert answer.status_code == 405
    assert "GET" in answer.headers["allow"]
