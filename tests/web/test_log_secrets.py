"""SPEC §6: no token, code, secret or password in any log line, and no line a request can forge
(issue 10). Each test reads the live server's own log output: a handler on the `c42` loggers
(the access log `c42.access` included) and on `uvicorn` (the server's error log)."""

from __future__ import annotations

import logging
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from c42 import accounts
from c42.db import Database
from c42.models import User
from c42.redaction import is_secret
from c42.resources.tokens.endpoint_table import walk
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, unique_email
from tests.oauth.helpers import exchange, make_app, new_browser, pkce, refresh
from tests.web.helpers import (
    PASSWORD,
    browser,
    get_form,
    link_in,
    log_in,
    path_of,
    submit,
    wait_for_mail,
)

NEW_PASSWORD = "a new password for the log test"
# Route parameters known to carry no secret; any other name must be named like a secret
# (c42.redaction.SECRET_WORDS), so that the access log redacts it.
KNOWN_NOT_SECRET = frozenset(
    {"id", "app_id", "client_id", "user_id", "service_id", "item_id", "kind", "action"}
)  # ids and the admin console's action names: public, never a secret
_ROUTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_REQUEST = re.compile(r'"[A-Z]+ (\S+)" \d{3} ')
# What must never reach a log line raw: controls (C0, DEL, C1) and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class ServerLog(logging.Handler):
    """Everything the server logs while attached: each record as its handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def access_messages(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.name == "c42.access"]

    def settle(self, base_url: str) -> None:
        """Wait until the server has logged every request sent before this call: the access
        line is written after the response has gone out."""
        marker = secrets.token_hex(8)
        assert raw_request(base_url, "GET", f"/health?log_marker={marker}")[0] == 200
        deadline = time.monotonic() + 10
        while f"log_marker={marker}" not in self.text:
            assert time.monotonic() < deadline, "the marker request was never logged"
            time.sleep(0.01)

    def assert_no_secret(self, *values: str) -> None:
        text = self.text
        for value in values:
            assert value
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                assert form not in text, f"a secret is in the log: {form[:12]}..."


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    handler = ServerLog()
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


def raw_request(
    base_url: str, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """Send a request line exactly as given (an HTTP client would re-encode or refuse it);
    (status, response head)."""
    parts = urlsplit(base_url)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if method == "POST":
        lines.append("Content-Length: 0")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1")
    return int(head.split(" ", 2)[1]), head


def logged_paths(log: ServerLog, prefix: str) -> list[str]:
    return [path for path in map(_logged_path, log.access_messages()) if path.startswith(prefix)]


def _logged_path(message: str) -> str:
    match = _REQUEST.search(message)
    assert match, message
    return match.group(1)


def _password_hash(db: Database, email: str) -> str | None:
    with db.session(write=False) as session:
        return accounts.get_user(session, email).password_hash


def _reset_link(client: httpx.Client, outbox: Path, email: str) -> str:
    assert submit(client, "/accounts/password-reset/", {"email": email}).status_code == 200
    return path_of(link_in(wait_for_mail(outbox, email, "Reset")))


# Item 1: a secret in the path -------------------------------------------------------------


def test_a_reset_link_read_from_the_log_cannot_reset_the_password(
    server: LiveServer, server_log: ServerLog, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as victim:
        link = _reset_link(victim, outbox, person.email)
        assert victim.get(link).status_code == 200  # the victim opens the link
    server_log.settle(server.url)
    seen = logged_paths(server_log, "/accounts/password-reset/")
    before = _password_hash(db, person.email)
    for path in {p for p in seen if p != "/accounts/password-reset/"}:  # an attacker's tries
        with browser(server.url) as attacker:
            assert attacker.get(path).status_code == 400
            csrf = get_form(attacker, "/accounts/password-reset/")
            answer = attacker.post(path, data={"password": NEW_PASSWORD, "csrf_token": csrf})
            assert answer.status_code == 400
    assert _password_hash(db, person.email) == before
    with browser(server.url) as victim:
        assert log_in(victim, person.email, PASSWORD).status_code == 303
    server_log.assert_no_secret(link.rsplit("/", 1)[1])
    assert "/accounts/password-reset/[redacted]" in seen


def test_every_route_parameter_is_classified_and_secret_ones_are_never_logged(
    server: LiveServer, server_log: ServerLog
) -> None:
    templates = {path for path, _methods, _route in walk(server.app.router.routes) if path}
    used: list[str] = []
    for template in sorted(t for t in templates if "{" in t):
        names = _ROUTE_PARAM.findall(template)
        for name in names:
            assert is_secret(name) or name in KNOWN_NOT_SECRET, (
                f"{template}: does {{{name}}} carry a secret? Name it like one "
                "(c42.redaction.SECRET_WORDS) or list it in KNOWN_NOT_SECRET"
            )
        if not any(is_secret(name) for name in names):
            continue
        for suffix in ("", "/", "/more"):  # the route itself, and paths that only start like it
            value = secrets.token_urlsafe(24)
            used.append(value)
            path = _ROUTE_PARAM.sub(value, template) + suffix  # token_urlsafe: no backslash
            for method in ("GET", "POST"):
                raw_request(server.url, method, path)
    assert len(used) >= 6  # the reset and the verification links at least
    server_log.settle(server.url)
    server_log.assert_no_secret(*used)
    assert logged_paths(server_log, "/accounts/verify/[redacted]")
    assert "/accounts/verify/[redacted]/more" in logged_paths(server_log, "/accounts/verify/")


# Item 2: the query, redacted on the names the app decodes --------------------------------


def _oauth_tokens(server: LiveServer, db: Database, settings: Settings, factory: Factory) -> dict:
    """A confidential app's code flow with PKCE: what it used and what it got."""
    service_id = factory.service("Log test service")
    person = factory.user(password=PASSWORD)
    factory.subscribe(service_id, person)
    app = make_app(db, settings, service_id)
    assert app.client_secret
    verifier, challenge = pkce()
    user = new_browser(server.url)
    try:
        user.login(person)
        code = user.code(app, challenge=challenge, scope="service.read")
    finally:
        user.http.close()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        tokens = exchange(client, app, code, verifier).json()
        # client_secret_post this time: the secret in the form body
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        form |= {"client_id": app.client_id, "client_secret": app.client_secret}
        rotated = client.post("/oauth2/token/", data=form).json()
        again = refresh(client, app, rotated["refresh_token"]).json()
    return {
        "app": app,
        "person": person,
        "code": code,
        "verifier": verifier,
        "secrets": [
            app.client_secret,
            code,
            verifier,
            person.token,
            tokens["access_token"],
            tokens["refresh_token"],
            rotated["access_token"],
            rotated["refresh_token"],
        ],
        "access_token": again["access_token"],
        "refresh_token": again["refresh_token"],
    }


def test_access_token_in_the_query_is_redacted_however_its_name_is_encoded(
    server: LiveServer, server_log: ServerLog, db: Database, settings: Settings, factory: Factory
) -> None:
    flow = _oauth_tokens(server, db, settings, factory)
    token = flow["access_token"]
    first = f"%{ord(token[0]):02X}{token[1:]}"  # the value percent-encoded too
    targets = [
        f"/api/v2/calendars/?access_token={token}",
        f"/api/v2/calendars/?access%5Ftoken={token}",
        f"/api/v2/calendars/?%61ccess_token={token}",
        f"/api/v2/calendars/?%61ccess%5ftoken={first}",
        f"/api/v2/calendars/?limit=5&access%5Ftoken={token}",
    ]
    for target in targets:
        status, head = raw_request(server.url, "GET", target)
        assert status == 200, target  # C42 compat: the query token authenticates (SPEC §5.3)
        assert "cache-control: no-store" in head.lower()
    server_log.settle(server.url)
    server_log.assert_no_secret(token, first, *flow["secrets"])
    logged = [p for p in logged_paths(server_log, "/api/v2/calendars/") if "access" in p]
    assert len(logged) == len(targets)
    assert all("access_token=[redacted]" in p for p in logged)
    assert "/api/v2/calendars/?limit=5&access_token=[redacted]" in logged


def test_secret_named_query_parameters_are_redacted_on_every_path(
    server: LiveServer, server_log: ServerLog
) -> None:
    values = {
        name: secrets.token_urlsafe(16)
        for name in (
            "code",
            "code_verifier",
            "client_secret",
            "refresh_token",
            "password",
            "id_token_hint",
            "Access_Token",
        )
    }
    encoded = "&".join(f"{quote(name).replace('_', '%5F')}={v}" for name, v in values.items())
    for path in ("/oauth2/authorize/", "/oauth2/token/", "/accounts/login/", "/nowhere"):
        raw_request(server.url, "GET", f"{path}?state=keep&{encoded}")
    server_log.settle(server.url)
    server_log.assert_no_secret(*values.values())
    assert "/oauth2/token/?state=keep&code=[redacted]&code_verifier=[redacted]" in "\n".join(
        server_log.access_messages()
    )


# Item 3: no forged lines ------------------------------------------------------------------

INJECTIONS = ["%0A", "%0D%0A", "%0D", "%09", "%1B[2J", "%7F", "%C2%85", "%E2%80%A8", "%00"]


def test_control_characters_in_the_target_cannot_forge_a_log_line(
    server: LiveServer, server_log: ServerLog
) -> None:
    for injected in INJECTIONS:
        forged = f"{injected}INFO:%20forged%20line%20{injected}"
        assert raw_request(server.url, "GET", f"/health{forged}")[0] == 404
        assert raw_request(server.url, "GET", f"/health?x={forged}&{forged}=y")[0] == 200
        assert raw_request(server.url, "GET", f"/accounts/verify/t%22{forged}")[0] == 400
    server_log.settle(server.url)
    messages = server_log.access_messages()
    assert len(messages) >= 3 * len(INJECTIONS)
    for message in messages:
        assert not _CONTROL.search(message), message
        assert message.count('"') == 2, message  # the request stays one quoted field
    for line in server_log.text.splitlines():
        assert not line.startswith("INFO: forged"), line
    assert '"GET /health%0AINFO:%20forged%20line%20%0A" 404' in server_log.text
    assert "/health?x=%0D%0AINFO:%20forged" in server_log.text


# Item 4: unexpected errors ----------------------------------------------------------------


def test_unexpected_errors_are_logged_without_values_and_escaped(
    settings: Settings, db: Database, factory: Factory, server_log: ServerLog
) -> None:
    existing = factory.user()
    bound_name, message_name = "Name" + secrets.token_hex(8), "Name" + secrets.token_hex(8)
    digest = secrets.token_hex(32)

    def duplicate_user() -> None:  # an unexpected IntegrityError, its values bound
        with db.session() as session:
            user = User(email=existing.email, first_name=bound_name, password_hash=digest)
            session.add(user)

    def message_with_input() -> None:
        raise ValueError(f"bad name {message_name}\nINFO: forged line")

    live = LiveServer(settings, db)
    app: FastAPI = live.app
    app.add_api_route("/test/duplicate-user", duplicate_user, methods=["GET"])
    app.add_api_route("/test/message", message_with_input, methods=["GET"])
    live.start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            answers = [client.get(path) for path in ("/test/duplicate-user", "/test/message")]
        server_log.settle(live.url)
    finally:
        live.stop()
    server_log.assert_no_secret(existing.email, digest, bound_name)
    text = server_log.text
    assert "ERROR c42: unhandled error: IntegrityError" in text
    assert "sqlalchemy.exc.IntegrityError: [message hidden" in text
    assert ("sqlstate=23505" if not db.is_sqlite else "sqlite=SQLITE_CONSTRAINT_UNIQUE") in text
    assert f"ValueError: bad name {message_name}\\x0aINFO: forged line" in text
    assert not any(line.startswith("INFO: forged") for line in text.splitlines())
    assert '"GET /test/duplicate-user" 500' in text  # the access line has the real status
    assert "Exception in ASGI application" not in text  # logged once, by c42, not the server
    for answer in answers:
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "server_error"
        assert answer.headers["x-content-type-options"] == "nosniff"


# All of it: the log after every flow that handles a secret --------------------------------


def test_no_secret_of_any_flow_reaches_the_log(
    server: LiveServer,
    server_log: ServerLog,
    db: Database,
    settings: Settings,
    factory: Factory,
    outbox: Path,
) -> None:
    used: list[str] = [PASSWORD, NEW_PASSWORD]
    email = unique_email("logs")
    with browser(server.url) as web:
        # Registration and the verification link.
        form = {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "L"}
        assert submit(web, "/accounts/register/", form).status_code == 200
        verify = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))
        assert web.get(verify).status_code == 303
        used.append(verify.rsplit("/", 1)[1])
        # A password reset through its link.
        reset = _reset_link(web, outbox, email)
        used.append(reset.rsplit("/", 1)[1])
        assert submit(web, reset, {"password": NEW_PASSWORD}).status_code == 303
        assert log_in(web, email, NEW_PASSWORD).status_code == 303
    with httpx.Client(base_url=server.url, timeout=30) as client:
        # A User Token from the API's password login, used in the header.
        created = client.post(
            "/api/v2/user-tokens/", json={"email": email, "password": NEW_PASSWORD}
        )
        assert created.status_code == 201
        user_token = created.json()["data"][0]["token"]
        used.append(user_token)
        auth = {"Authorization": f"Token {user_token}"}
        assert client.get("/api/v2/calendars/", headers=auth).status_code == 200
        # OAuth: code, verifier, client secret, access and refresh tokens.
        flow = _oauth_tokens(server, db, settings, factory)
        used += flow["secrets"]
        access, refresh_token = flow["access_token"], flow["refresh_token"]
        used += [access, refresh_token]
        bearer = {"Authorization": f"Bearer {access}"}
        assert client.get("/api/v2/calendars/", headers=bearer).status_code == 200
        assert client.get("/api/v2/calendars/", params={"access_token": access}).status_code == 200
        app = flow["app"]
        body = {"token": access}
        assert client.post("/oauth2/introspect/", data=body, auth=app.auth).json()["active"]
        assert client.post("/oauth2/revoke/", data={"token": refresh_token}, auth=app.auth)
        # A client that puts its secrets in the query, where they do not belong.
        query = {"code": flow["code"], "code_verifier": flow["verifier"]}
        query |= {"client_secret": app.client_secret, "password": NEW_PASSWORD}
        client.get("/oauth2/token/", params=query)
        client.get("/oauth2/authorize/", params={"client_id": app.client_id, **query})
    server_log.settle(server.url)
    server_log.assert_no_secret(*used)
    paths = [_logged_path(message) for message in server_log.access_messages()]
    assert "/accounts/verify/[redacted]" in paths
    assert "/accounts/password-reset/[redacted]" in paths
    assert "/api/v2/calendars/?access_token=[redacted]" in paths


def test_every_c42_logger_goes_through_c42_logs() -> None:
    """c42.logs.get_logger attaches the filter that escapes messages and hides database
    errors' values; a module taking its logger any other way would skip it."""
    root = Path(__file__).resolve().parents[2] / "c42"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "logs.py" and "getLogger(" in path.read_text()
    ]
    assert offenders == []
