"""Bounds on the request head (issue 10 item 9, SPEC §6): a request-target over 8 KiB is 414
`uri_too_long`, a header field over 8 KiB, more than 100 fields or over 32 KiB of headers is
431 `request_header_fields_too_large` — in the error envelope, before any work (no credential
is looked at, no body read), and the connection stays usable. Below the limits nothing
changes. Past what uvicorn's parser takes, uvicorn itself answers 400 and closes cleanly."""

from __future__ import annotations

import pytest

from c42 import head_limits
from c42.db import Database
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.rawhttp import Connection, RawResponse, request
from tests.resources.checks import fingerprint

KIB = 1024
HEALTH = request(b"/health")


def _assert_refused(response: RawResponse, status: int, code: str) -> None:
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"  # inside the outer layer
    error = response.json()["error"]
    assert error["status_code"] == status and error["code"] == code, error
    assert error["message"]


def _assert_still_open(connection: Connection) -> None:
    """The same connection answers the next request: nothing was reset or dropped."""
    assert connection.send(HEALTH).status == 200


def _field(size: int, name: bytes = b"X-Pad") -> tuple[bytes, bytes]:
    """A header field of `size` bytes, name and value (as the limit counts them)."""
    return name, b"a" * (size - len(name))


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        pytest.param([_field(8 * KIB)], False, id="one-field-at-8KiB"),
        pytest.param([_field(8 * KIB + 1)], True, id="one-field-over-8KiB"),
        pytest.param([(b"Authorization", b"Token " + b"a" * 100_000)], True, id="100KB-auth"),
        pytest.param([_field(100, b"X-%d" % i) for i in range(99)], False, id="100-fields"),
        pytest.param([_field(20, b"X-%d" % i) for i in range(100)], True, id="101-fields"),
        pytest.param([_field(8 * KIB, b"X-%d" % i) for i in range(3)], False, id="24KiB-in-all"),
        pytest.param([_field(8 * KIB, b"X-%d" % i) for i in range(4)], True, id="over-32KiB"),
    ],
)
def test_header_limits(
    server: LiveServer, headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    # The request also carries Host: the tables above stay just inside or just outside.
    with Connection(server.port) as connection:
        response = connection.send(request(b"/health", headers=headers))
        if refused:
            _assert_refused(response, 431, "request_header_fields_too_large")
        else:
            assert response.status == 200, response
        _assert_still_open(connection)


def test_huge_authorization_is_refused_before_it_is_looked_at(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    """The 100 KB credential is never parsed or looked up: 431, not 401; a valid User Token
    padded past the limit is refused as well (it is the size, not the content)."""
    person = factory.user()
    padded = b"Token " + person.token.encode() + b" " * (9 * KIB)
    before = fingerprint(db)
    with Connection(server.port) as connection:
        for value in (b"Token " + b"a" * 100_000, padded):
            response = connection.send(
                request(b"/api/v2/events/", headers=[(b"Authorization", value)])
            )
            _assert_refused(response, 431, "request_header_fields_too_large")
        good = request(b"/api/v2/events/", headers=[(b"Authorization", padded.strip())])
        assert connection.send(good).status == 200
    assert fingerprint(db) == before


def test_refused_post_body_is_drained_and_the_connection_kept(
    server: LiveServer, db: Database
) -> None:
    """A refused head with a body: the body is not read by the app, the server skips it, the
    next request on the connection is answered (no reset, no write)."""
    before = fingerprint(db)
    body = b'{"name": "never created"}'
    headers = [(b"Content-Type", b"application/json"), _field(9 * KIB)]
    with Connection(server.port) as connection:
        response = connection.send(
            request(b"/api/v2/calendars/", method=b"POST", headers=headers, body=body)
        )
        _assert_refused(response, 431, "request_header_fields_too_large")
        _assert_still_open(connection)
    assert fingerprint(db) == before


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        pytest.param(b"/health?" + b"a" * (8 * KIB - 8), False, id="query-at-8KiB"),
        pytest.param(b"/health?" + b"a" * (8 * KIB - 7), True, id="query-over-8KiB"),
        pytest.param(b"/" + b"a" * (8 * KIB), True, id="path-over-8KiB"),
        pytest.param(b"/api/v2/events/?ids=[" + b"0" * 9000 + b"]", True, id="api-query"),
        pytest.param(b"/oauth2/authorize/?state=" + b"s" * 9000, True, id="authorize"),
    ],
)
def test_request_target_limit(server: LiveServer, target: bytes, refused: bool) -> None:
    with Connection(server.port) as connection:
        response = connection.send(request(target))
        if refused:
            _assert_refused(response, 414, "uri_too_long")
        else:
            assert response.status == 200, response
        _assert_still_open(connection)


def test_limits_are_the_documented_numbers() -> None:
    assert head_limits.MAX_TARGET_BYTES == 8 * KIB
    assert head_limits.MAX_FIELD_BYTES == 8 * KIB
    assert head_limits.MAX_FIELDS == 100
    assert head_limits.MAX_HEADER_BYTES == 32 * KIB


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/health?" + b"a" * 70_000, id="target-past-64KiB"),
        pytest.param(b"/health?a=\x01", id="raw-control-character"),
        pytest.param(b"/health?a=\x7f", id="raw-DEL"),
        pytest.param(b"/h\xc3\xa9alth", id="raw-non-ASCII"),
        pytest.param(b"/health?a=\xff", id="raw-non-UTF-8"),
    ],
)
def test_what_the_parser_refuses_is_a_clean_400(server: LiveServer, target: bytes) -> None:
    """uvicorn's httptools parser refuses these bytes in the request line itself (the app
    never sees them): a plain 400, then the connection is closed with a FIN, not reset."""
    with Connection(server.port) as connection:
        response = connection.send(request(target))
        assert response.status == 400, response
        assert response.headers["connection"] == "close"
        assert connection.closed_cleanly()
