"""The Authorization header for User Tokens (SPEC §5.1, RFC 7235 §2.1): the scheme word is
case-insensitive and may be followed by any run of spaces; the token must be 40 lowercase hex;
anything else is a 401 with WWW-Authenticate in the error envelope — never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from c42.db import Database
from tests.factories import Factory, Person
from tests.resources.checks import assert_error
from tests.routes import api_routes, concrete, route_id


@pytest.fixture(scope="module")
def person(db: Database, settings: Any) -> Person:
    return Factory(db, settings).user(prefix="header")


ACCEPTED = [
    "Token {t}",
    "token {t}",
    "TOKEN {t}",
    "tOkEn {t}",
    "Token  {t}",
    "Token     {t}",
]
REJECTED = [
    ("39-chars", "Token {t39}"),
    ("41-chars", "Token {t}a"),
    ("uppercase-hex", "Token {T}"),
    ("non-hex", "Token " + "g" * 40),
    ("unicode-digits", "Token " + "٣" * 40),
    ("empty", ""),
    ("scheme-alone", "Token"),
    ("token-alone", "{t}"),
    ("tab-separator", "Token\t{t}"),
    ("tab-after-space", "Token \t{t}"),
    ("two-tokens", "Token {t} {t}"),
    ("trailing-garbage", "Token {t} x"),
    ("comma", "Token {t},"),
    ("colon", "Token:{t}"),
    ("equals", "Token={t}"),
    ("quoted", 'Token "{t}"'),
    ("unknown-scheme", "Basic {t}"),
    ("scheme-typo", "Tokens {t}"),
    ("bearer-with-user-token", "Bearer {t}"),
    ("action-token-scheme", "ActionToken {t}"),
    ("nbsp", "Token\u00a0{t}"),
    ("latin1-garbage", "Token \u00e9" * 3),
    ("very-long", "Token " + "a" * 8000),
    ("digest-instead", "Token " + "a" * 64),
]


def _value(template: str, token: str) -> str:
    return template.format(t=token, t39=token[:39], T=token.upper())


@pytest.mark.parametrize("template", ACCEPTED)
def test_scheme_is_case_insensitive_and_spaces_may_repeat(
    client: httpx.Client, person: Person, template: str
) -> None:
    headers = {"Authorization": _value(template, person.token)}
    response = client.get("/api/v2/events/", headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("case", "template"), REJECTED, ids=[c for c, _ in REJECTED])
def test_malformed_authorization_is_401_with_challenge(
    client: httpx.Client, person: Person, case: str, template: str
) -> None:
    value = _value(template, person.token)
    response = client.get("/api/v2/events/", headers=[("Authorization", value.encode())])
    error = assert_error(response, 401)
    assert error["code"] in ("invalid_token", "not_authenticated"), error
    challenge = response.headers.get("www-authenticate", "")
    assert "Token" in challenge or "Bearer" in challenge, response.headers
    assert person.token not in response.text


def test_unknown_well_formed_token_is_401(client: httpx.Client) -> None:
    response = client.get("/api/v2/events/", headers={"Authorization": "Token " + "0" * 40})
    assert_error(response, 401, "invalid_token")
    assert 'Token realm="c42"' in response.headers["www-authenticate"]


def test_no_credentials_is_401_not_authenticated(client: httpx.Client) -> None:
    response = client.get("/api/v2/events/")
    assert_error(response, 401, "not_authenticated")
    assert "Token" in response.headers["www-authenticate"]


def test_user_token_in_the_query_string_is_not_a_user_token(
    client: httpx.Client, person: Person
) -> None:
    """`access_token=` is the (discouraged) OAuth form; a User Token there is refused."""
    response = client.get("/api/v2/events/", params={"access_token": person.token})
    assert_error(response, 401)
    assert response.headers.get("cache-control") == "no-store"


def test_token_in_header_and_query_is_400(client: httpx.Client, person: Person) -> None:
    """RFC 6750 §2: a client must not send the token in more than one way."""
    response = client.get(
        "/api/v2/events/", params={"access_token": "x" * 43}, headers=person.headers
    )
    assert_error(response, 400, "invalid_request")


def test_two_authorization_headers_are_not_accepted_as_one(
    client: httpx.Client, person: Person
) -> None:
    """Authorization is a singleton field (RFC 9110 §5.3): a second, bad one must not be
    silently ignored in favour of the good one, nor combined into a 500."""
    headers = [
        ("Authorization", f"Token {person.token}".encode()),
        ("Authorization", b"Token " + b"0" * 40),
    ]
    response = client.get("/api/v2/events/", headers=headers)
    assert_error(response, 401)


# Every API endpoint but those that take no credential (listed, so that an endpoint that
# forgets its credential check cannot pass unnoticed: it would have to be added here).
NO_CREDENTIAL = {("POST", "/api/v2/user-tokens/")}  # login: e-mail and password (SPEC §5.1)
ROUTES = [route for route in api_routes() if route not in NO_CREDENTIAL]


def test_the_route_list_is_the_apps() -> None:
    assert set(api_routes()) >= NO_CREDENTIAL
    assert ("POST", "/api/v2/action-tokens/") in ROUTES  # once missed by a hand-written list


@pytest.fixture
def anonymous(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, verify=False) as http:  # noqa: S501
        yield http


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[route_id(*r) for r in ROUTES])
@pytest.mark.parametrize("authorization", [None, "Token " + "0" * 40, "Token nope"])
def test_every_resource_endpoint_needs_a_valid_credential(
    anonymous: httpx.Client, method: str, route: str, authorization: str | None
) -> None:
    path = concrete(route)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    headers = {"Authorization": authorization} if authorization else {}
    response = anonymous.request(method, path, json=body, headers=headers)
    assert_error(response, 401)
    assert response.headers.get("www-authenticate")
