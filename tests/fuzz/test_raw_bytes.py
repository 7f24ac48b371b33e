"""Deterministic cases of the fuzzing pass for bytes an HTTP client will not send (issue 10):
raw non-UTF-8 bytes and NUL in request targets, headers and bodies; percent-encoded invalid
UTF-8; whitespace and raw bytes around credentials. Always an answer below 500, in the
endpoint family's error format, and a refused form writes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from c42.db import Database
from tests.conftest import LiveServer
from tests.fuzz.bounds import FUZZ_MARKS
from tests.fuzz.conftest import People
from tests.fuzz.raw import RawAnswer, by_http_server, request, send
from tests.fuzz.state import auth_state

pytestmark = FUZZ_MARKS

FORM = (b"Content-Type", b"application/x-www-form-urlencoded")
JSON = (b"Content-Type", b"application/json")


@dataclass(frozen=True)
class Context:
    token: bytes  # a User Token
    client_id: bytes  # a confidential app's
    secret: bytes
    redirect_uri: bytes
    cookie: bytes  # an anonymous browser's session cookie
    csrf: bytes  # and the CSRF token that goes with it

    def user(self) -> tuple[bytes, bytes]:
        return (b"Authorization", b"Token " + self.token)

    def basic(self, user_pass: bytes) -> tuple[bytes, bytes]:
        return (b"Authorization", b"Basic " + base64.b64encode(user_pass))

    def browser(self) -> tuple[bytes, bytes]:
        return (b"Cookie", self.cookie)


@pytest.fixture(scope="module")
def context(server: LiveServer, fuzz_people: People) -> Iterator[Context]:
    app = fuzz_people.app
    assert app.client_secret
    with httpx.Client(base_url=server.url, timeout=30) as http:
        page = http.get("/accounts/login/")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    yield Context(
        token=fuzz_people.owner.token.encode(),
        client_id=app.client_id.encode(),
        secret=app.client_secret.encode(),
        redirect_uri=app.redirect_uri.encode(),
        cookie=cookie.encode(),
        csrf=csrf.encode(),
    )


Build = Callable[[Context], bytes]
API: dict[str, Build] = {
    "raw 0xFF in a list filter": lambda c: request(
        b"GET", b"/api/v2/events/?ids=[\xff\xfe]", [c.user()]
    ),
    "percent-encoded invalid UTF-8 in a filter": lambda c: request(
        b"GET", b"/api/v2/calendars/?ids=%5B%FF%FE%5D&limit=%C0%80", [c.user()]
    ),
    "raw 0xFF in a path id": lambda c: request(b"GET", b"/api/v2/events/\xff\xfe/", [c.user()]),
    "percent-encoded 0xFF in a path id": lambda c: request(
        b"DELETE", b"/api/v2/calendars/%FF%00/", [c.user()]
    ),
    "non-UTF-8 JSON body": lambda c: request(
        b"POST", b"/api/v2/calendars/", [c.user(), JSON], b'{"name": "\xff\xfe"}'
    ),
    "UTF-16 JSON body": lambda c: request(
        b"POST", b"/api/v2/calendars/", [c.user(), JSON], '{"name": "x"}'.encode("utf-16")
    ),
    "raw 0xFF after the token": lambda c: request(
        b"GET", b"/api/v2/events/", [(b"Authorization", b"Token " + c.token + b"\xff")]
    ),
    "token with a trailing space": lambda c: request(
        b"GET", b"/api/v2/events/", [(b"Authorization", b"Token " + c.token + b" ")]
    ),
    "raw 0x80 Bearer": lambda c: request(
        b"GET", b"/api/v2/calendars/", [(b"Authorization", b"Bearer \x80\x81\xfe")]
    ),
    "Action Token scheme with raw bytes": lambda c: request(
        b"GET", b"/api/v2/events/", [(b"Authorization", b"ActionToken \xc3\x28" * 20)]
    ),
}
OAUTH: dict[str, Build] = {
    "token: raw 0xFF in the form": lambda c: request(
        b"POST",
        b"/oauth2/token/",
        [FORM, c.basic(c.client_id + b":" + c.secret)],
        b"grant_type=authorization_code&code=\xff\xfe&redirect_uri=" + c.redirect_uri,
    ),
    "token: percent-encoded invalid UTF-8": lambda c: request(
        b"POST", b"/oauth2/token/", [FORM], b"grant_type=%FF&client_id=" + c.client_id
    ),
    "token: NUL in the form": lambda c: request(
        b"POST", b"/oauth2/token/", [FORM], b"grant_type=refresh_token&refresh_token=\x00"
    ),
    "token: Basic of non-UTF-8 bytes": lambda c: request(
        b"POST", b"/oauth2/token/", [FORM, c.basic(b"\xff\xfe:\xc3\x28")], b"grant_type=x"
    ),
    "token: raw bytes after Basic": lambda c: request(
        b"POST",
        b"/oauth2/token/",
        [FORM, (b"Authorization", b"Basic \xff\xfe")],
        b"grant_type=refresh_token&refresh_token=x",
    ),
    "token: Basic with trailing whitespace": lambda c: request(
        b"POST", b"/oauth2/token/", [FORM, (b"Authorization", b"Basic \t ")], b"grant_type=x"
    ),
    "revoke: raw bytes in Origin": lambda c: request(
        b"POST",
        b"/oauth2/revoke/",
        [FORM, (b"Origin", b"https://\xff.example"), c.basic(c.client_id + b":" + c.secret)],
        b"token=x",
    ),
    "introspect: raw bytes in the token": lambda c: request(
        b"POST",
        b"/oauth2/introspect/",
        [FORM, c.basic(c.client_id + b":" + c.secret)],
        b"token=\xff\x00\xfe",
    ),
}
PAGES: dict[str, Build] = {
    "authorize: raw 0xFF in client_id": lambda c: request(
        b"GET", b"/oauth2/authorize/?response_type=code&client_id=\xff\xfe"
    ),
    "authorize: percent-encoded invalid UTF-8 in redirect_uri": lambda c: request(
        b"GET",
        b"/oauth2/authorize/?response_type=code&client_id="
        + c.client_id
        + b"&redirect_uri=https%3A%2F%2Fclient.example%2F%FF",
    ),
    "authorize: raw bytes in state": lambda c: request(
        b"GET",
        b"/oauth2/authorize/?response_type=code&state=\xc3\x28&client_id="
        + c.client_id
        + b"&redirect_uri="
        + c.redirect_uri,
    ),
    "metadata: raw bytes in the query": lambda c: request(
        b"GET", b"/.well-known/oauth-authorization-server?\xff=\xfe"
    ),
    "login: raw non-UTF-8 fields": lambda c: request(
        b"POST",
        b"/accounts/login/",
        [FORM, c.browser()],
        b"csrf_token="
        + c.csrf
        + b"&email=\xff@example.com&password=\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe",
    ),
    "register: percent-encoded invalid UTF-8": lambda c: request(
        b"POST",
        b"/accounts/register/",
        [FORM, c.browser()],
        b"csrf_token=" + c.csrf + b"&email=a%FF@example.com&password=%FF%FE%FD%FC%FB%FA%F9%F8"
        b"&first_name=%C0%80&last_name=x",
    ),
    "password reset: NUL in the address": lambda c: request(
        b"POST",
        b"/accounts/password-reset/",
        [FORM, c.browser()],
        b"csrf_token=" + c.csrf + b"&email=someone%00@example.com",
    ),
    "login page: a cookie of raw bytes": lambda c: request(
        b"GET", b"/accounts/login/?next=\xff", [(b"Cookie", b"c42_session=\xff\xfe; x=\x80")]
    ),
    "logout: a forged session cookie": lambda c: request(
        b"POST", b"/accounts/logout/", [FORM, (b"Cookie", b"c42_session=e30=.x.y")], b"csrf_token=x"
    ),
}


def _send(server: LiveServer, build: Build, context: Context) -> tuple[RawAnswer, bytes]:
    raw = build(context)
    return send(server.port, raw), raw


@pytest.mark.parametrize("case", sorted(API))
def test_api_raw_bytes(case: str, server: LiveServer, context: Context) -> None:
    answer, raw = _send(server, API[case], context)
    assert answer.status < 500, raw
    if answer.status >= 400 and not by_http_server(answer.status, answer.body):
        error = json.loads(answer.body)["error"]  # the C42 envelope
        assert error["status_code"] == answer.status and error["code"], (raw, error)


@pytest.mark.parametrize("case", sorted(OAUTH))
def test_oauth_raw_bytes(case: str, server: LiveServer, context: Context, db: Database) -> None:
    before = auth_state(db)
    answer, raw = _send(server, OAUTH[case], context)
    assert answer.status < 500, raw
    if answer.status >= 400 and not by_http_server(answer.status, answer.body):
        assert isinstance(json.loads(answer.body)["error"], str), (raw, answer.body)
    assert auth_state(db) == before, raw


@pytest.mark.parametrize("case", sorted(PAGES))
def test_page_raw_bytes(case: str, server: LiveServer, context: Context, db: Database) -> None:
    before = auth_state(db)
    answer, raw = _send(server, PAGES[case], context)
    assert answer.status < 500, raw
    if answer.status >= 400:
        assert auth_state(db) == before, raw
