"""The /oauth2/* endpoints fuzzed (issue 10): requests built from a valid one by dropping,
spoiling and repeating its parameters and adding random ones, with random Authorization
headers, sent over HTTP to the live server.

Always below 500. The token, revocation and introspection endpoints answer errors as RFC 6749
§5.2 JSON. The authorization endpoint redirects only to a registered redirect URI (RFC 6749
§4.1.2.1) or to the login page. A refused request writes nothing (tests/fuzz/state.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from c42.db import Database
from c42.head_limits import MAX_FIELD_BYTES
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.fuzz.bounds import FUZZ_MARKS, budget
from tests.fuzz.conftest import People
from tests.fuzz.raw import by_http_server
from tests.fuzz.state import auth_state
from tests.fuzz.strategies import authorization, header_values, params, values
from tests.oauth.helpers import App, Browser, make_app, new_browser, pkce

pytestmark = FUZZ_MARKS

SPA_ORIGIN = "https://spa.example"
BODY_LIMIT = Settings.model_fields["max_body_bytes"].default  # the suite keeps the default
HEADER_LIMIT = MAX_FIELD_BYTES
CONTENT_TYPES = (  # the right one first: the simplest case, and the most frequent
    *(["application/x-www-form-urlencoded"] * 6),
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
)
OAUTH_NAMES = (
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "scope",
    "service",
    "service_id",
    "token",
    "token_type_hint",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "email_address",
    "prompt",
    "nonce",
    "request",
    "request_uri",
)


@dataclass(frozen=True)
class OAuthWorld:
    people: People
    web: App
    native: App
    silent: App
    challenge: str
    known: list[str]  # good values of every parameter, for the strategies to use and spoil

    @property
    def apps(self) -> tuple[App, ...]:
        return (self.web, self.native, self.silent)


@pytest.fixture(scope="module")
def oauth_world(db: Database, settings: Settings, fuzz_people: People) -> OAuthWorld:
    service_id = fuzz_people.service_id
    native = make_app(db, settings, service_id, public=True, cors_origins=[SPA_ORIGIN])
    silent = make_app(db, settings, service_id, silent=True)
    apps = (fuzz_people.app, native, silent)
    verifier, challenge = pkce()
    known = {
        *("code", "token", "authorization_code", "refresh_token", "client_credentials"),
        *("password", "S256", "plain", "access_token", "0" * 40, "nobody@example.com"),
        *("service.read", "service.write", "service.read service.write"),
        *("http://127.0.0.1:1/callback", "http://[::1]/callback", "http://localhost:99999/x"),
        challenge,
        verifier,
        service_id,
        fuzz_people.owner.email,
    }
    for app in apps:
        known |= {app.client_id, *app.redirect_uris}
        if app.client_secret:
            known.add(app.client_secret)
    return OAuthWorld(fuzz_people, *apps, challenge, sorted(known))


@pytest.fixture(scope="module")
def logged_in(server: LiveServer, fuzz_people: People) -> Iterator[Browser]:
    browser = new_browser(server.url)
    browser.login(fuzz_people.owner)
    yield browser
    browser.http.close()


# -- the authorization endpoint -------------------------------------------------------------


def _authorize_base(world: OAuthWorld, app: App) -> list[tuple[str, str]]:
    base = [
        ("response_type", "code"),
        ("client_id", app.client_id),
        ("redirect_uri", app.redirect_uri),
        ("state", "xyz"),
        ("scope", "service.read"),
        ("code_challenge", world.challenge),
        ("code_challenge_method", "S256"),
    ]
    if app is world.silent:
        base.append(("email_address", "fuzz-sandbox@example.com"))
    return base


def test_authorize_never_5xx_and_redirects_only_to_registered_uris(
    server: LiveServer, oauth_world: OAuthWorld, logged_in: Browser, db: Database
) -> None:
    known = oauth_world.known
    requests = st.sampled_from(oauth_world.apps).flatmap(
        lambda app: params(_authorize_base(oauth_world, app), known, OAUTH_NAMES)
    )

    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as anonymous:

        @given(query=requests, signed_in=st.booleans())
        @settings(budget(70))
        def run(query: list[tuple[str, str]], signed_in: bool) -> None:
            http = logged_in.http if signed_in else anonymous
            before = auth_state(db)
            answer = http.get("/oauth2/authorize/", params=query)
            where = f"GET /oauth2/authorize/?{urlencode(query)[:1500]} (logged in: {signed_in})"
            assert answer.status_code < 500, where
            location = answer.headers.get("location")
            if answer.is_redirect:
                assert location, where
                _assert_safe_redirect(oauth_world, location, where)
            if not (location and "code" in parse_qs(urlsplit(location).query)):
                assert auth_state(db) == before, f"wrote without issuing a code: {where}"

        run()


def _assert_safe_redirect(world: OAuthWorld, location: str, where: str) -> None:
    """RFC 6749 §3.1.2, §4.1.2.1: to the login page, or to a registered redirect URI (a
    loopback one of the public native app on any port, RFC 8252 §7.3)."""
    if location.startswith("/accounts/login/"):
        return
    target = urlsplit(location)
    for app in world.apps:
        for uri in app.redirect_uris:
            registered = urlsplit(uri)
            same = (target.scheme, target.hostname, target.path) == (
                registered.scheme,
                registered.hostname,
                registered.path,
            )
            if same and (target.port == registered.port or app is world.native):
                return
    raise AssertionError(f"redirect to {location!r} for {where}")


# -- token, revocation and introspection ----------------------------------------------------


@st.composite
def _post_requests(
    draw: st.DrawFn, world: OAuthWorld, bases: tuple[list[tuple[str, str]], ...]
) -> tuple[list[tuple[str, str]], bytes | None, str, bytes | None]:
    """(form, Authorization header or None, Content-Type, Origin or None): client credentials
    in the header, in the form, in both or nowhere, valid or spoiled."""
    web, native = world.web, world.native
    assert web.client_secret
    in_form = draw(
        st.sampled_from(
            (
                [],
                [("client_id", native.client_id)],
                [("client_id", web.client_id), ("client_secret", web.client_secret)],
            )
        )
    )
    ids = [app.client_id for app in world.apps]
    secrets = [app.client_secret for app in world.apps if app.client_secret]
    header = draw(authorization(ids, secrets))
    form = draw(params(draw(st.sampled_from(bases)) + in_form, world.known, OAUTH_NAMES))
    origin = draw(st.one_of(st.none(), st.just(SPA_ORIGIN.encode()), header_values()))
    return form, header, draw(st.sampled_from(CONTENT_TYPES)), origin


def _post(
    http: httpx.Client,
    path: str,
    form: list[tuple[str, str]],
    auth: bytes | None,
    content_type: str,
    origin: bytes | None,
) -> tuple[httpx.Response, str]:
    headers: dict[str, str | bytes] = {"Content-Type": content_type} if content_type else {}
    if auth is not None:
        headers["Authorization"] = auth
    if origin is not None:
        headers["Origin"] = origin
    body = urlencode(form).encode()
    where = f"POST {path} headers={headers!r} body={body[:2000]!r}"
    return http.post(path, content=body, headers=headers), where


def _assert_oauth_error(answer: httpx.Response, where: str) -> None:
    """RFC 6749 §5.2: a JSON object with an `error` code (RFC 7009 §2.2.1, RFC 7662 §2.3)."""
    assert answer.headers.get("content-type", "").startswith("application/json"), where
    body = answer.json()
    assert isinstance(body, dict), where
    assert isinstance(body.get("error"), str) and body["error"], (body, where)


TOKEN_BASES = (
    [("grant_type", "authorization_code"), ("code", "0" * 43), ("redirect_uri", "x")],
    [("grant_type", "refresh_token"), ("refresh_token", "0" * 43), ("scope", "service.read")],
    [("grant_type", "authorization_code"), ("code_verifier", "v" * 43)],
)
ENDPOINTS = {
    "/oauth2/token/": TOKEN_BASES,
    "/oauth2/revoke/": ([("token", "0" * 43), ("token_type_hint", "refresh_token")],),
    "/oauth2/introspect/": ([("token", "0" * 43), ("token_type_hint", "access_token")],),
}
EXAMPLES = {"/oauth2/token/": 70, "/oauth2/revoke/": 35, "/oauth2/introspect/": 35}


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_post_endpoints_never_5xx_and_refuse_in_json(
    path: str, server: LiveServer, oauth_world: OAuthWorld, db: Database
) -> None:
    requests = _post_requests(oauth_world, ENDPOINTS[path])
    with httpx.Client(base_url=server.url, timeout=30) as http:

        @given(request=requests)
        @settings(budget(EXAMPLES[path]))
        def run(request: tuple) -> None:
            # Past the body or header limits the middleware answers 413/431 before the
            # endpoint runs (not in RFC 6749 §5.2 form); these cases are about the endpoint.
            form, authorization = request[0], request[1] or b""
            assume(len(urlencode(form)) < BODY_LIMIT and len(authorization) < HEADER_LIMIT)
            before = auth_state(db)
            answer, where = _post(http, path, *request)
            assert answer.status_code < 500, where
            if answer.status_code >= 400 or path == "/oauth2/token/":
                _assert_oauth_error(answer, where)  # no real code or token is ever sent
            assert auth_state(db) == before, f"wrote: {where}"

        run()


# -- metadata and preflights ----------------------------------------------------------------


def test_metadata_and_preflights_never_5xx(server: LiveServer, oauth_world: OAuthWorld) -> None:
    junk_query = st.lists(st.tuples(values(), values()), max_size=4)
    targets = st.sampled_from(
        (
            ("GET", "/.well-known/oauth-authorization-server"),
            ("OPTIONS", "/oauth2/token/"),
            ("OPTIONS", "/oauth2/revoke/"),
            ("OPTIONS", "/oauth2/token"),
        )
    )
    origins = st.one_of(
        st.none(),
        header_values(),
        st.sampled_from((SPA_ORIGIN.encode(), b"null", b"https://spa.example:443")),
    )
    with httpx.Client(base_url=server.url, timeout=30) as http:

        @given(target=targets, query=junk_query, origin=origins)
        @settings(budget(30))
        def run(target: tuple[str, str], query: list[tuple[str, str]], origin: Any) -> None:
            method, path = target
            headers = {"Access-Control-Request-Method": "POST"}
            if origin is not None:
                headers["Origin"] = origin  # type: ignore[assignment]
            answer = http.request(method, path, params=query, headers=headers)
            where = f"{method} {path}?{urlencode(query)[:1500]} Origin: {origin!r}"
            assert answer.status_code < 500, where
            past_limits = answer.status_code == 414 or by_http_server(
                answer.status_code, answer.content
            )  # a target past 8 KiB (ours), a request head past 64 KiB (uvicorn's)
            if method == "GET" and not past_limits:
                assert answer.status_code == 200, where
                assert answer.json()["issuer"], where
            allowed = answer.headers.get("access-control-allow-origin")
            assert allowed in (None, SPA_ORIGIN), where

        run()
