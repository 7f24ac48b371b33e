"""The scope registry (c42.auth.scopes, SPEC §9): what it says about each scope, and that
the server follows it — the consent page's words, silent OAuth's refusal of identity
scopes, the service API seeing only service scopes, app registration, the CLI's choices.

Written over the registry, not over a list of names: a scope added there is checked here.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from c42.auth import scopes, secrets
from c42.auth.oauth import apps
from c42.auth.oauth import bearer as bearer_lookup
from c42.cli.main import build_parser
from c42.db import Database
from c42.errors import InvalidRequest
from c42.models import OAuthApp
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, access_token, make_app
from tests.silent import helpers as silent

SERVICE = scopes.service_scopes()
IDENTITY = scopes.of_kind(scopes.ScopeKind.IDENTITY)


def test_every_scope_is_described_and_well_formed() -> None:
    assert scopes.names() == sorted(scope.name for scope in scopes.registered())
    for scope in scopes.registered():
        assert scope.description.strip().endswith("."), scope.name
        assert scope.name == scopes.join(scopes.parse(scope.name))  # one RFC 6749 scope-token
        assert scope.kind in scopes.ScopeKind


def test_kinds_decide_silent_and_api() -> None:
    assert {scopes.SERVICE_READ, scopes.SERVICE_WRITE} <= SERVICE
    assert SERVICE.isdisjoint(IDENTITY)
    for scope in scopes.registered():
        assert scope.silent == (scope.kind is scopes.ScopeKind.SERVICE), scope.name
    assert scopes.default_scopes() and scopes.default_scopes() <= SERVICE
    everything = set(scopes.names()) | {"not.registered"}
    assert scopes.for_api(everything) == SERVICE
    assert scopes.silent_allowed(SERVICE)
    assert not scopes.silent_allowed({*SERVICE, "not.registered"})
    for name in IDENTITY:
        assert not scopes.silent_allowed({scopes.SERVICE_READ, name}), name


def test_scope_strings() -> None:
    """RFC 6749 §3.3: space-delimited, order and repetition carry no meaning."""
    assert scopes.parse(" service.write  service.read service.write ") == SERVICE
    assert scopes.parse(None) == frozenset() == scopes.parse("")
    assert scopes.join(["service.write", "service.read", "service.read"]) == (
        "service.read service.write"
    )


def test_describe_in_registration_order_unknown_last() -> None:
    requested = {*scopes.names(), "zz.unknown"}
    described = scopes.describe(requested, "Acme")
    assert [name for name, _ in described] == [
        *(scope.name for scope in scopes.registered()),
        "zz.unknown",
    ]
    words = dict(described)
    assert words[scopes.SERVICE_READ] == "See your calendars and events related to Acme."
    assert all("{service}" not in text for text in words.values())


def test_register_refuses_a_duplicate_or_a_malformed_name() -> None:
    with pytest.raises(ValueError, match="twice"):
        scopes._register(scopes.SERVICE_READ, scopes.ScopeKind.SERVICE, "Again.")
    for bad in ("", "two words", 'quo"te', "back\\slash", "caf\u00e9"):
        with pytest.raises(ValueError, match="scope-token"):
            scopes._register(bad, scopes.ScopeKind.SERVICE, "Bad.")
    assert "" not in scopes.names()


@pytest.mark.parametrize("name", scopes.names())
def test_the_consent_page_shows_each_scope_in_words(
    browser: Browser, web_app: App, name: str
) -> None:
    params = {
        "response_type": "code",
        "client_id": web_app.client_id,
        "redirect_uri": web_app.redirect_uri,
        "scope": name,
        "state": "s",
    }
    page = browser.authorize(params)
    assert page.status_code == 200 and 'id="consent-form"' in page.text, page.text
    description = scopes.describe({name}, "OAuth Test Service")[0][1]
    assert f'<li data-scope="{name}">{description}</li>' in page.text


@pytest.mark.skipif(not IDENTITY, reason="no identity scope registered")
def test_the_api_sees_only_service_scopes(
    client: httpx.Client, browser: Browser, web_app: App, db: Database
) -> None:
    asked = scopes.join({scopes.SERVICE_READ, *IDENTITY})
    token = access_token(client, browser, web_app, asked)
    subject = bearer_lookup.lookup(db, secrets.digest(token)).subject
    assert subject is not None
    assert subject.scopes == {scopes.SERVICE_READ}
    assert not subject.can_write


@pytest.mark.skipif(not IDENTITY, reason="no identity scope registered")
@pytest.mark.parametrize("name", sorted(IDENTITY))
def test_silent_oauth_refuses_identity_scopes(
    client: httpx.Client, db: Database, settings: Settings, service_id: str, name: str
) -> None:
    """SPEC §10: silent OAuth never issues id_tokens; no identity scope at all."""
    app = silent.make_app(db, settings, service_id)
    scope = scopes.join({scopes.SERVICE_READ, name})
    query = silent.silent(client, app, silent.address("identity"), scope=scope)
    assert query.get("error") == "invalid_scope", query
    assert "code" not in query


def test_apps_are_registered_for_service_scopes_only(
    db: Database, settings: Settings, service_id: str
) -> None:
    made = make_app(db, settings, service_id)  # default: every service scope
    with db.session(write=False) as session:
        stored = session.scalar(
            select(OAuthApp.allowed_scopes).where(OAuthApp.client_id == made.client_id)
        )
    assert stored is not None and scopes.parse(stored) == SERVICE
    for wrong in [*sorted(IDENTITY), "not.registered"]:
        spec = apps.AppSpec(service_id, "Wrong", ["https://x.example/cb"], scopes=[wrong])
        with pytest.raises(InvalidRequest, match="Not a service scope"):
            apps.check(spec)


def test_the_cli_offers_the_service_scopes(capsys: pytest.CaptureFixture[str]) -> None:
    required = ["app", "create", "--service", "s", "--name", "n", "--redirect-uri", "https://x/"]
    for name in SERVICE:
        assert build_parser("app").parse_args([*required, "--scope", name]).scopes == [name]
    for name in [*sorted(IDENTITY), "not.registered"]:
        with pytest.raises(SystemExit) as refused:
            build_parser("app").parse_args([*required, "--scope", name])
        assert refused.value.code == 2
        assert "invalid choice" in capsys.readouterr().err
