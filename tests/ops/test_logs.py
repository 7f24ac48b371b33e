"""Request ids and JSON log lines (SPEC §7): `X-Request-ID` honoured when plausible, else made;
echoed on every response; with `C42_LOG_FORMAT=json` one JSON object per line and request, with
ts, level, event, request_id, method, route, status, duration_ms, user_id, client_id and the
credential kind; lines written while serving a request carry its id.

The lines are written by the live server's own loggers through the JSON formatter `c42 serve`
installs for C42_LOG_FORMAT=json (tests/ops/test_serve_workers.py reads a real process's)."""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from c42.db import Database
from c42.ops.json_logs import JsonFormatter
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import exchange, make_app, new_browser, person_with_password
from tests.ops.helpers import eventually, served
from tests.web.helpers import PASSWORD, browser, log_in

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
GENERATED = re.compile(r"[0-9a-f]{32}")
EVENTS = "/api/v2/events/"


class JsonLines(logging.Handler):
    """What the server logs while attached, formatted as `C42_LOG_FORMAT=json` does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        parsed = []
        for line in self.lines:
            assert "\n" not in line
            parsed.append(json.loads(line))
        return parsed

    def requests(self) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry["event"] == "request"]

    def request(self, request_id: str) -> dict[str, Any]:
        """The access line of one request (written once its response has gone out)."""
        found: list[dict[str, Any]] = []

        def logged() -> bool:
            found[:] = [e for e in self.requests() if e["request_id"] == request_id]
            return bool(found)

        eventually(logged)
        assert len(found) == 1
        return found[0]


@pytest.fixture
def json_lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    c42, server = logging.getLogger("c42"), logging.getLogger("uvicorn")
    level = c42.level
    c42.setLevel(logging.INFO)
    c42.addHandler(handler)
    server.addHandler(handler)
    try:
        yield handler
    finally:
        server.removeHandler(handler)
        c42.removeHandler(handler)
        c42.setLevel(level)


# Request ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "3f2b8c1e-6d4a-4b7e-9f10-2a3b4c5d6e7f",
        "Root=1-67891233-abcdef012345678912345678",
        "a" * 128,
        "req.42:alpha/beta+gamma=",
    ],
)
def test_a_plausible_request_id_is_honoured_and_echoed(client: httpx.Client, sent: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


def _raw_request_id(server: LiveServer, header_lines: list[bytes]) -> str:
    """Send header lines as given (an HTTP client refuses some); the echoed X-Request-ID."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        head = [b"GET /health HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", *header_lines]
        connection.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    ids = re.findall(rb"(?im)^x-request-id: *([^\r\n]*)\r$", received.partition(b"\r\n\r\n")[0])
    assert len(ids) == 1, received
    return ids[0].decode("latin-1")


@pytest.mark.parametrize(
    "header_lines",
    [
        [b"X-Request-ID: " + b"a" * 129],
        [b"X-Request-ID: two words"],
        [b'X-Request-ID: quote"d'],
        [b"X-Request-ID: semi;colon"],
        [b"X-Request-ID: caf\xc3\xa9"],
        [b"X-Request-ID: tab\there"],
        [b"X-Request-ID:"],
        [b"X-Request-ID: first", b"X-Request-ID: second"],
    ],
    ids=["too-long", "space", "quote", "semicolon", "non-ascii", "tab", "empty", "twice"],
)
def test_an_odd_request_id_is_replaced_by_a_new_one(
    server: LiveServer, header_lines: list[bytes]
) -> None:
    echoed = _raw_request_id(server, header_lines)
    assert GENERATED.fullmatch(echoed), echoed


def test_every_response_gets_a_new_id_when_none_is_sent(client: httpx.Client) -> None:
    responses = [
        client.get("/health"),
        client.get(EVENTS),  # 401
        client.get("/no-such-page"),  # 404
        client.post(EVENTS, content=b"x" * 70_000, headers={"Content-Type": "application/json"}),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(GENERATED.fullmatch(value) for value in ids)
    assert len(set(ids)) == len(ids)
    assert responses[3].status_code == 413


# JSON lines ----------------------------------------------------------------------------------


def _common(entry: dict[str, Any], request_id: str) -> None:
    assert RFC3339_UTC.fullmatch(entry["ts"]), entry["ts"]
    assert abs(time.time() - _epoch(entry["ts"])) < 60
    assert entry["level"] == "info"
    assert entry["event"] == "request"
    assert entry["request_id"] == request_id
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["client_ip"] == "127.0.0.1"


def _epoch(ts: str) -> float:
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def test_an_api_request_line(client: httpx.Client, factory: Factory, json_lines: JsonLines) -> None:
    person = factory.user()
    sent = "api-" + secrets.token_hex(8)
    headers = {**person.headers, "X-Request-ID": sent}
    response = client.get(EVENTS + "?limit=1", headers=headers)
    assert response.status_code == 200
    entry = json_lines.request(sent)
    _common(entry, sent)
    assert entry["method"] == "GET"
    assert entry["route"] == EVENTS
    assert entry["target"] == EVENTS + "?limit=1"
    assert entry["status"] == 200
    assert entry["user_id"] == person.id
    assert entry["credential"] == "Token"
    assert entry["client_id"] is None


def test_an_oauth_request_line_names_the_app(
    server: LiveServer,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    factory: Factory,
    json_lines: JsonLines,
) -> None:
    app = make_app(db, settings, factory.service("Logs"))
    person = person_with_password(factory)
    browser_ = new_browser(server.url)
    browser_.login(person)
    code = browser_.code(app)
    issued = exchange(client, app, code)
    token_line = json_lines.request(issued.headers["x-request-id"])
    assert token_line["route"] == "/oauth2/token/"
    assert token_line["status"] == 200
    assert token_line["client_id"] == app.client_id  # the authenticated client
    access = issued.json()["access_token"]
    response = client.get(EVENTS, headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200
    entry = json_lines.request(response.headers["x-request-id"])
    assert entry["user_id"] == person.id
    assert entry["credential"] == "Bearer"
    assert entry["client_id"] == app.client_id
    text = "\n".join(json_lines.lines)
    for secret in (code, access, issued.json()["refresh_token"], app.client_secret or "?"):
        assert secret not in text


def test_a_page_request_line_names_the_session_user(
    server: LiveServer, factory: Factory, json_lines: JsonLines
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as pages:
        assert log_in(pages, person.email, PASSWORD).status_code == 303
        response = pages.get("/accounts/")
        assert response.status_code == 200
        entry = json_lines.request(response.headers["x-request-id"])
        cookies = [cookie.value for cookie in pages.cookies.jar]
    assert entry["route"] == "/accounts/"
    assert entry["user_id"] == person.id
    assert entry["credential"] == "session"
    text = "\n".join(json_lines.lines)
    for secret in (PASSWORD, person.token, *cookies):
        assert secret not in text


def test_unrouted_and_refused_requests_are_logged_too(
    client: httpx.Client, json_lines: JsonLines
) -> None:
    response = client.get("/no-such-page", headers={"X-Request-ID": "missing-page"})
    entry = json_lines.request("missing-page")
    assert response.status_code == 404
    assert entry["route"] is None
    assert entry["status"] == 404
    assert entry["user_id"] is None and entry["credential"] is None


def test_secrets_in_the_target_are_redacted(
    client: httpx.Client, factory: Factory, json_lines: JsonLines
) -> None:
    person = factory.user()
    response = client.get(EVENTS, params={"access_token": person.token, "limit": "2"})
    assert response.status_code == 401  # a User Token is no access_token
    entry = json_lines.request(response.headers["x-request-id"])
    assert entry["target"] == EVENTS + "?access_token=[redacted]&limit=2"
    assert person.token not in "\n".join(json_lines.lines)


def test_lines_written_while_serving_carry_the_request_id(
    settings: Settings, json_lines: JsonLines
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = Settings(database_url=f"postgresql://postgres@127.0.0.1:{port}/c42").database_url
    down = settings.model_copy(update={"database_url": url})
    with served(down, Database(url)) as live:
        response = httpx.get(live.url + "/health/ready", headers={"X-Request-ID": "probe-1"})
        assert response.status_code == 503
        json_lines.request("probe-1")
    warnings = [e for e in json_lines.entries() if e["level"] == "warning"]
    assert [w["request_id"] for w in warnings] == ["probe-1"]
    assert warnings[0]["event"] == "log"
    assert warnings[0]["logger"] == "c42.health"
    assert "database unavailable" in warnings[0]["message"]
    assert str(port) not in warnings[0]["message"]  # no driver text (it quotes the address)


def test_control_characters_never_break_a_line(client: httpx.Client, json_lines: JsonLines) -> None:
    response = client.get("/no-such-page/%0a%0d%e2%80%a8end", headers={"X-Request-ID": "ctl"})
    assert response.status_code == 404
    json_lines.request("ctl")
    for line in json_lines.lines:
        assert not re.search("[\x00-\x1f\x7f\u2028\u2029]", line)
