"""The form pages fuzzed (issue 10): login, register, password-reset request, logout and the
consent form, posted with random fields and with a valid, missing, wrong or repeated CSRF
token; their pages fetched with random query parameters.

Always below 500. Without the valid CSRF token: 403 (SPEC §5.3). Any refusal (4xx) writes
nothing: no user, no session, no code, no consent (tests/fuzz/state.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.fuzz.bounds import FUZZ_MARKS, budget
from tests.fuzz.conftest import People
from tests.fuzz.state import auth_state
from tests.fuzz.strategies import params, values
from tests.oauth.helpers import PASSWORD, App, make_app, pkce

pytestmark = FUZZ_MARKS

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
CSRF = "csrf_token"
# How the CSRF token is sent: only "valid" passes; "first" (the valid token, then junk) must
# be refused too, "last" (junk, then the valid token) is left to the form parser.
CSRF_KINDS = ("valid", "valid", "valid", "missing", "wrong", "empty", "first", "last")
CONTENT_TYPES = (
    *(["application/x-www-form-urlencoded"] * 6),
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data; boundary=fuzz",
    "text/plain",
    "",
)


@dataclass(frozen=True)
class Form:
    path: str
    base: list[tuple[str, str]]  # fields the form accepts (without its CSRF token)
    logged_in: bool = False


def _forms(people: People) -> dict[str, Form]:
    email = people.owner.email
    return {
        "login": Form(
            "/accounts/login/",
            [("email", email), ("password", "not the password"), ("next", "/accounts/")],
        ),
        "register": Form(
            "/accounts/register/",
            [
                ("email", "fuzz-register@example.com"),
                ("password", "a long enough password"),
                ("first_name", "Fuzz"),
                ("last_name", "Tester"),
                ("next", "/oauth2/authorize/?client_id=x"),
            ],
        ),
        "password-reset": Form("/accounts/password-reset/", [("email", email)]),
        "logout": Form("/accounts/logout/", [], logged_in=True),
    }


def _known(people: People) -> list[str]:
    return [
        people.owner.email,
        people.friend.email,
        "fuzz-register@example.com",
        "Fuzz@Example.COM",
        "a@b",
        PASSWORD,
        "/accounts/",
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "allow",
        "deny",
    ]


class Visitor:
    """A cookie-keeping client; logs in again when a fuzzed logout ended its session."""

    def __init__(self, server: LiveServer, people: People) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
        self.people = people
        self.signed_in = False

    def csrf(self, page: str) -> str:
        answer = self.http.get(page)
        assert answer.status_code == 200, (page, answer.status_code)
        return _hidden(answer.text)[CSRF]

    def sign_in(self) -> None:
        if self.signed_in:
            return
        form = {CSRF: self.csrf("/accounts/login/"), "email": self.people.owner.email}
        answer = self.http.post("/accounts/login/", data={**form, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        self.signed_in = True

    def close(self) -> None:
        self.http.close()


def _hidden(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


@st.composite
def submissions(
    draw: st.DrawFn, base: list[tuple[str, str]], known: list[str], names: tuple[str, ...] = ()
) -> tuple[list[tuple[str, str]], str, str]:
    """(fields without the CSRF token, how the token is sent, Content-Type)."""
    fields = draw(params(base, known, names))
    return fields, draw(st.sampled_from(CSRF_KINDS)), draw(st.sampled_from(CONTENT_TYPES))


def _with_csrf(fields: list[tuple[str, str]], kind: str, token: str) -> list[tuple[str, str]]:
    sent = {
        "valid": [(CSRF, token)],
        "missing": [],
        "wrong": [(CSRF, token[::-1])],
        "empty": [(CSRF, "")],
        "first": [(CSRF, token), (CSRF, "junk")],
        "last": [(CSRF, "junk"), (CSRF, token)],
    }[kind]
    return [*sent, *fields]


def _post(
    http: httpx.Client, path: str, form: list[tuple[str, str]], content_type: str
) -> tuple[httpx.Response, str]:
    body = urlencode(form).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    where = f"POST {path} Content-Type: {content_type!r} body={body[:2000]!r}"
    return http.post(path, content=body, headers=headers), where


def _check(
    answer: httpx.Response,
    kind: str,
    content_type: str,
    before: tuple,
    db: Database,
    where: str,
    refusals: tuple[int, ...] = (400, 403),  # an unreadable form, no valid CSRF token
) -> None:
    assert answer.status_code < 500, where
    urlencoded = content_type.startswith("application/x-www-form-urlencoded")
    if kind in ("missing", "wrong", "empty", "first") or (kind == "valid" and not urlencoded):
        assert answer.status_code in refusals, where
    if answer.status_code >= 400:
        assert auth_state(db) == before, f"a refused request wrote: {where}"


@pytest.fixture
def visitor(server: LiveServer, fuzz_people: People) -> Iterator[Visitor]:
    v = Visitor(server, fuzz_people)
    yield v
    v.close()


EXAMPLES = {"login": 25, "register": 25, "password-reset": 20, "logout": 10}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_form_never_5xx_and_refusals_write_nothing(
    name: str, visitor: Visitor, fuzz_people: People, db: Database
) -> None:
    form = _forms(fuzz_people)[name]
    known = _known(fuzz_people)

    @given(submission=submissions(form.base, known))
    @settings(budget(EXAMPLES[name]))
    def run(submission: tuple[list[tuple[str, str]], str, str]) -> None:
        fields, kind, content_type = submission
        if form.logged_in:
            visitor.sign_in()
        token = visitor.csrf(form.path)
        before = auth_state(db)
        answer, where = _post(
            visitor.http, form.path, _with_csrf(fields, kind, token), content_type
        )
        _check(answer, kind, content_type, before, db, where)
        if answer.is_redirect and form.path in ("/accounts/login/", "/accounts/logout/"):
            # Logged in or out: the next example starts from a known state.
            visitor.signed_in = form.path == "/accounts/login/"
            location = answer.headers["location"]
            # Never off-site: "//host" and "/\\host" are other sites to a browser.
            assert location.startswith("/") and location[1:2] not in ("/", "\\"), where

    run()


def test_pages_with_random_queries_never_5xx(visitor: Visitor, fuzz_people: People) -> None:
    known = _known(fuzz_people)
    pages = st.sampled_from(
        (
            "/accounts/login/",
            "/accounts/register/",
            "/accounts/password-reset/",
            "/accounts/logout/",
        )
    )
    base = [("next", "/accounts/"), ("notice", "logged-out")]

    @given(page=pages, query=params(base, known))
    @settings(budget(30))
    def run(page: str, query: list[tuple[str, str]]) -> None:
        answer = visitor.http.get(page, params=query)
        assert answer.status_code < 500, f"GET {page}?{urlencode(query)[:1500]}"

    run()


# -- pages named by a token or id in the path ----------------------------------------------

LINKS = ("/accounts/verify/{}", "/accounts/password-reset/{}", "/account/apps/{}/revoke/")


def test_token_links_never_5xx_and_refusals_write_nothing(
    visitor: Visitor, fuzz_people: People, db: Database
) -> None:
    """Verification and reset links and the connected-apps revoke form with random tokens and
    ids (including "." and "..", which the client leaves alone when percent-encoded)."""
    known = [*_known(fuzz_people), fuzz_people.app.client_id, fuzz_people.app.id, ".", ".."]
    submission = submissions([("password", "a long enough password")], known)

    @given(link=st.sampled_from(LINKS), token=values(known), post=st.booleans(), data=st.data())
    @settings(budget(40))
    def run(link: str, token: str, post: bool, data: st.DataObject) -> None:
        if link.startswith("/account/"):
            visitor.sign_in()
        # "." percent-encoded too, or the client would resolve "." and ".." segments itself.
        path = link.format(quote(token, safe="").replace(".", "%2E"))
        before = auth_state(db)
        if not post:
            answer = visitor.http.get(path)
            assert answer.status_code < 500, f"GET {path}"
            assert auth_state(db) == before or answer.is_redirect, f"GET {path} wrote"
            return
        fields, kind, content_type = data.draw(submission)
        csrf = visitor.csrf("/accounts/login/")
        answer, where = _post(visitor.http, path, _with_csrf(fields, kind, csrf), content_type)
        # A token with "/" in it names no page (404), a long one is past the target limit (414):
        # refused before any form is read.
        _check(answer, kind, content_type, before, db, where, refusals=(400, 403, 404, 414))

    run()


# -- the consent form -----------------------------------------------------------------------


@pytest.fixture
def public_app(db: Database, settings: Settings, fuzz_people: People) -> App:
    """A public app: its consent page is shown every time (RFC 6749 §10.2)."""
    return make_app(db, settings, fuzz_people.service_id, public=True)


def test_consent_form_never_5xx_and_refusals_write_nothing(
    visitor: Visitor, public_app: App, db: Database
) -> None:
    _, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": public_app.client_id,
        "redirect_uri": public_app.redirect_uri,
        "state": "xyz",
        "scope": "service.read",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    known = [*_known(visitor.people), public_app.client_id, public_app.redirect_uri, challenge]
    extra_names = (*query, "decision")

    @given(data=st.data())
    @settings(budget(40))
    def run(data: st.DataObject) -> None:
        visitor.sign_in()
        page = visitor.http.get("/oauth2/authorize/", params=query)
        assert page.status_code == 200 and 'id="consent-form"' in page.text, page.text
        shown = _hidden(page.text)
        token = shown.pop(CSRF)
        base = [*shown.items(), ("decision", data.draw(st.sampled_from(("allow", "deny"))))]
        fields, kind, content_type = data.draw(submissions(base, known, extra_names))
        before = auth_state(db)
        form = _with_csrf(fields, kind, token)
        answer, where = _post(visitor.http, "/oauth2/authorize/", form, content_type)
        _check(answer, kind, content_type, before, db, where)
        location = answer.headers.get("location", "")
        if answer.is_redirect:
            assert location.startswith(public_app.redirect_uri + "?"), where
        if "code" not in parse_qs(urlsplit(location).query):
            assert auth_state(db) == before, f"wrote without issuing a code: {where}"

    run()
