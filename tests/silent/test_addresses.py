"""One normal form of an address (c42.emails.normalise_email) decides which sandbox a silent
request reaches: two spellings of one mailbox reach one sandbox; look-alikes never do."""

from __future__ import annotations

import uuid

import httpx
import pytest

from c42.db import Database
from c42.emails import normalise_email
from tests.factories import Factory
from tests.silent.helpers import App, bearer, create, ids, sandbox_token, sandbox_users, silent

CYRILLIC_A = "\u0430"


def _local() -> str:
    return f"ann.smith-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("{l}@example.com", "  {L}@EXAMPLE.com "),
        ("{l}@example.com", "{l}@Example.Com"),
        ("{l}@b\u00fccher.example", "{l}@xn--bcher-kva.example"),
        ("{l}@B\u00dcCHER.example", "{l}@b\u00fccher.EXAMPLE"),
    ],
    ids=["case-and-spaces", "domain-case", "idna-unicode-vs-punycode", "idna-case"],
)
def test_two_spellings_of_one_mailbox_reach_one_sandbox(
    client: httpx.Client, db: Database, app: App, first: str, second: str
) -> None:
    local = _local()
    one = first.format(l=local, L=local.upper())
    two = second.format(l=local, L=local.upper())
    token = sandbox_token(client, app, one)
    calendar = create(client, bearer(token), "/api/v2/calendars/", {"name": "Mine"})
    again = sandbox_token(client, app, two)
    assert ids(client, bearer(again), "/api/v2/calendars/") == {calendar["id"]}
    stored = normalise_email(one)
    assert stored == normalise_email(two)
    [user] = sandbox_users(db, stored)
    assert user.email == stored == stored.lower()


def test_plus_addresses_are_distinct_mailboxes(
    client: httpx.Client, db: Database, app: App
) -> None:
    local = _local()
    plain = sandbox_token(client, app, f"{local}@example.com")
    create(client, bearer(plain), "/api/v2/calendars/", {"name": "Plain"})
    plus = sandbox_token(client, app, f"{local}+work@example.com")
    assert ids(client, bearer(plus), "/api/v2/calendars/") == set()
    assert len(sandbox_users(db, f"{local}@example.com")) == 1
    assert len(sandbox_users(db, f"{local}+work@example.com")) == 1


def test_a_cyrillic_letter_in_the_domain_is_a_different_visible_domain(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> None:
    local = _local()
    latin = f"{local}@example.com"
    lookalike = f"{local}@ex{CYRILLIC_A}mple.com"
    token = sandbox_token(client, app, latin)
    calendar = create(client, bearer(token), "/api/v2/calendars/", {"name": "Latin"})

    other = sandbox_token(client, app, lookalike)
    assert ids(client, bearer(other), "/api/v2/calendars/") == set()
    assert calendar["id"] not in ids(client, bearer(other), "/api/v2/calendars/")
    stored = normalise_email(lookalike)
    assert stored.startswith(f"{local}@xn--") and stored != latin
    [user] = sandbox_users(db, stored)
    [latin_user] = sandbox_users(db, latin)
    assert user.id != latin_user.id


def test_a_cyrillic_letter_in_the_local_part_is_refused(
    client: httpx.Client, db: Database, app: App
) -> None:
    local = _local()
    query = silent(client, app, f"{CYRILLIC_A}{local}@example.com")
    assert query["error"] == "invalid_request"
    assert sandbox_users(db, f"a{local}@example.com") == []


def test_the_blocking_account_is_found_on_the_normal_form(
    client: httpx.Client, factory: Factory, app: App
) -> None:
    person = factory.user()  # stored lower-case, example.com
    local, domain = person.email.split("@")
    for spelling in (person.email.upper(), f"  {local}@{domain.title()}  "):
        assert silent(client, app, spelling)["error"] == "interaction_required"
