"""The operators' commands of SPEC §8 as real `c42` processes on the test database (SQLite or
PostgreSQL): list, show, revoke, rotate, update, disable, enable; `--json` everywhere; exit
status 2 for usage, 1 for what cannot be done; the same validation as the API and the pages.

Revocations are checked against a served app whose credential cache lasts five minutes and
that listens on Redis: a revoked credential must be refused at the very next request, which
only the eviction published by the command can bring about.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
import redis

from c42.cli.main import build_parser, main
from c42.db import Database
from c42.settings import Settings, get_settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import PASSWORD, Browser, exchange, make_app, pkce

C42 = str(Path(sys.executable).parent / "c42")
REDIS_URL = "redis://127.0.0.1:6379/0"
WEB_REDIRECT = "https://operators.example/cb"


@dataclass
class Cli:
    """`c42 ...` as a real process (`real=True`: each command at least once), else the same
    `main()` in this process with the same environment (a process start costs seconds)."""

    env: dict[str, str]

    def run(self, *args: str, real: bool = False) -> subprocess.CompletedProcess[str]:
        if real:
            return subprocess.run(
                [C42, *args], env=self.env, capture_output=True, text=True, timeout=180, check=False
            )
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, self.env, clear=True):
            get_settings.cache_clear()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = main(list(args))
            except SystemExit as exited:  # argparse: usage errors, --version
                code = int(exited.code or 0)
            finally:
                get_settings.cache_clear()
        return subprocess.CompletedProcess(["c42", *args], code, out.getvalue(), err.getvalue())

    def ok(self, *args: str, real: bool = False) -> str:
        done = self.run(*args, real=real)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert done.stderr == "", done.stderr
        return done.stdout

    def json(self, *args: str, real: bool = False) -> Any:
        return json.loads(self.ok(*args, "--json", real=real))

    def fails(self, code: int, *args: str, real: bool = False) -> str:
        done = self.run(*args, real=real)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        assert done.stdout == ""
        assert done.stderr.startswith("c42:") or "usage:" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done.stderr


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """The app on the test database with a 5-minute credential cache, listening on Redis."""
    if not _redis_up():
        pytest.skip("needs Redis at 127.0.0.1:6379 (evictions between processes)")
    slow_cache = settings.model_copy(update={"redis_url": REDIS_URL, "token_cache_seconds": 300})
    server = LiveServer(slow_cache, db)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def cli(settings: Settings) -> Cli:
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
        "C42_REDIS_URL": REDIS_URL,
    }
    env.pop("C42_TEST_DATABASE_URL", None)
    return Cli(env)


def _token_headers(person: Person) -> dict[str, str]:
    return {"Authorization": f"Token {person.token}"}


def _events(http: httpx.Client, headers: dict[str, str]) -> int:
    return http.get("/api/v2/events/", headers=headers).status_code


def _action_token(http: httpx.Client, person: Person) -> dict[str, Any]:
    grant = {"method": "GET", "route": "/api/v2/events/"}
    answer = http.post(
        "/api/v2/action-tokens/", json={"grants": [grant]}, headers=_token_headers(person)
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()["data"][0]
    return created


def test_version(cli: Cli) -> None:
    from importlib.metadata import version

    assert cli.ok("--version", real=True).strip() == f"c42 {version('c42')}"


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _all_parsers(child)


def test_every_option_has_help_and_every_command_json() -> None:
    missing, no_json = [], []
    for prog, parser in _all_parsers(build_parser(every_command=True)):
        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
        names = {o for a in parser._actions for o in a.option_strings}
        if leaf and "--json" not in names and prog != "c42 serve":  # serve prints no result
            no_json.append(prog)
    assert missing == []
    assert no_json == []  # SPEC §8: --json everywhere


def test_user_list_and_show(cli: Cli, factory: Factory) -> None:
    prefix = f"oplist{os.getpid()}"
    ann = factory.user(prefix=prefix, password=PASSWORD, first_name="Ann")
    bob = factory.user(prefix=prefix)
    factory.user(prefix="someone-else")

    listed = cli.json("user", "list", "--email-contains", prefix.upper(), real=True)
    assert sorted(u["email"] for u in listed) == sorted([ann.email, bob.email])
    assert {"id", "email", "is_active", "is_staff", "created"} <= set(listed[0])
    text = cli.ok("user", "list", "--email-contains", prefix)
    assert ann.email in text and bob.email in text and "someone-else" not in text
    # LIKE wildcards in the filter are plain characters
    assert cli.json("user", "list", "--email-contains", "%_%") == []

    shown = cli.json("user", "show", ann.email.upper(), real=True)
    assert shown["id"] == ann.id and shown["first_name"] == "Ann"
    assert shown["has_password"] is True
    assert [t["id"] for t in shown["user_tokens"]] == [_token_id(cli, ann)]
    assert ann.token not in json.dumps(shown)  # never a secret
    assert "password_hash" not in shown and "digest" not in json.dumps(shown)
    assert cli.fails(1, "user", "show", "nobody-at-all@example.com", real=True).count("\n") == 1


def _token_id(cli: Cli, person: Person) -> str:
    tokens = cli.json("token", "list", person.email)
    assert len(tokens) == 1, tokens
    return str(tokens[0]["id"])


def test_token_list_and_revoke_at_once(cli: Cli, factory: Factory, http: httpx.Client) -> None:
    person = factory.user()
    assert _events(http, _token_headers(person)) == 200  # now cached for five minutes
    listed = cli.json("token", "list", person.email, real=True)
    assert [set(t) for t in listed] == [{"id", "name", "created", "last_used", "expires_at"}]
    assert person.token not in json.dumps(listed)
    token_id = listed[0]["id"]
    assert token_id in cli.ok("token", "list", person.email)

    assert cli.json("token", "revoke", token_id, real=True) == {"id": token_id, "revoked": True}
    refused = http.get("/api/v2/events/", headers=_token_headers(person))
    assert refused.status_code == 401, "the eviction reached the serving process"
    assert cli.json("token", "list", person.email) == []
    assert "No live User Token" in cli.fails(1, "token", "revoke", token_id)


def test_action_token_list_and_revoke_at_once(
    cli: Cli, factory: Factory, http: httpx.Client
) -> None:
    person = factory.user()
    created = _action_token(http, person)
    headers = {"Authorization": f"ActionToken {created['token']}"}
    assert _events(http, headers) == 200

    listed = cli.json("action-token", "list", person.email, real=True)
    assert [t["id"] for t in listed] == [created["id"]]
    assert listed[0]["grants"] == [{"method": "GET", "route": "/api/v2/events/", "params": {}}]
    assert created["token"] not in json.dumps(listed)
    assert created["id"] in cli.ok("action-token", "list", person.email)

    cli.ok("action-token", "revoke", created["id"], real=True)
    assert _events(http, headers) == 401
    assert cli.json("action-token", "list", person.email) == []
    assert "No live Action Token" in cli.fails(1, "action-token", "revoke", created["id"])


def test_revoke_credentials(
    cli: Cli, factory: Factory, http: httpx.Client, live: LiveServer, settings: Settings, db: Any
) -> None:
    person = factory.user(password=PASSWORD)
    service_id = factory.service("Operators")
    factory.subscribe(service_id, person)
    app = make_app(db, settings, service_id, redirect_uris=[WEB_REDIRECT])
    browser = Browser(httpx.Client(base_url=live.url, timeout=30, follow_redirects=False))
    browser.login(person)
    verifier, challenge = pkce()
    tokens = exchange(http, app, browser.code(app, challenge=challenge), verifier).json()
    action = _action_token(http, person)
    credentials = {
        "user token": _token_headers(person),
        "action token": {"Authorization": f"ActionToken {action['token']}"},
        "oauth token": {"Authorization": f"Bearer {tokens['access_token']}"},
    }
    assert {name: _events(http, h) for name, h in credentials.items()} == dict.fromkeys(
        credentials, 200
    )
    assert browser.http.get("/account/apps/").status_code == 200

    revoked = cli.json("user", "revoke-credentials", person.email, real=True)
    assert revoked == {
        "email": person.email,
        "user_tokens": 1,
        "action_tokens": 1,
        "oauth_tokens": 1,
        "browser_sessions": 1,
    }
    assert {name: _events(http, h) for name, h in credentials.items()} == dict.fromkeys(
        credentials, 401
    )
    refreshed = http.post(
        "/oauth2/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=app.auth,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert browser.http.get("/account/apps/").status_code in (302, 303)  # log in again
    browser.http.close()
    again = cli.ok("user", "revoke-credentials", person.email)
    assert "0 user tokens" in again


def _client_authenticates(http: httpx.Client, client_id: str, secret: str) -> bool:
    """A token request with a code that does not exist: invalid_client (401) when the
    secret is wrong, invalid_grant (400) once the client is authenticated."""
    answer = http.post(
        "/oauth2/token/",
        data={"grant_type": "authorization_code", "code": "x" * 40, "redirect_uri": WEB_REDIRECT},
        auth=(client_id, secret),
    )
    assert answer.json()["error"] in ("invalid_client", "invalid_grant"), answer.text
    return bool(answer.json()["error"] == "invalid_grant")


def test_apps(cli: Cli, factory: Factory, http: httpx.Client) -> None:
    service_id = factory.service("CLI apps")
    created = cli.json(
        "app", "create", "--service", service_id, "--name", "Operator web",
        "--redirect-uri", WEB_REDIRECT,
    )  # fmt: skip
    client_id, old_secret = created["client_id"], created["client_secret"]
    assert _client_authenticates(http, client_id, old_secret)

    listed = cli.json("app", "list", "--service", service_id, real=True)
    assert [a["client_id"] for a in listed] == [client_id]
    assert old_secret not in json.dumps(listed)
    assert client_id in cli.ok("app", "list")
    assert cli.json("app", "list", "--service", "0" * 32) == []
    shown = cli.json("app", "show", client_id, real=True)
    assert shown == listed[0] and shown["require_pkce"] is False

    rotated = cli.json("app", "rotate-secret", client_id, real=True)
    assert set(rotated) == {"client_id", "client_secret"} and rotated["client_id"] == client_id
    assert rotated["client_secret"] != old_secret and len(rotated["client_secret"]) >= 32
    assert not _client_authenticates(http, client_id, old_secret)  # at once
    assert _client_authenticates(http, client_id, rotated["client_secret"])

    updated = cli.json(
        "app", "update", client_id, "--name", "Renamed", "--redirect-uri", WEB_REDIRECT,
        "--redirect-uri", "https://operators.example/2", "--silent", "--require-pkce", real=True,
    )  # fmt: skip
    assert updated["name"] == "Renamed" and updated["silent"] and updated["require_pkce"]
    assert updated["redirect_uris"] == [WEB_REDIRECT, "https://operators.example/2"]
    back = cli.json("app", "update", client_id, "--no-silent", "--no-require-pkce")
    assert (back["silent"], back["require_pkce"], back["name"]) == (False, False, "Renamed")

    assert cli.json("app", "disable", client_id, real=True)["disabled"] is True
    assert http.post(
        "/oauth2/token/", data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(client_id, rotated["client_secret"]),
    ).json()["error"] == "invalid_client"  # fmt: skip
    assert "disabled:" in cli.ok("app", "enable", client_id, real=True)
    assert _client_authenticates(http, client_id, rotated["client_secret"])

    public = cli.json(
        "app", "create", "--service", service_id, "--name", "Operator native", "--public",
        "--redirect-uri", "http://127.0.0.1/cb",
    )  # fmt: skip
    assert "public app" in cli.fails(2, "app", "rotate-secret", public["client_id"])
    assert "No app" in cli.fails(1, "app", "rotate-secret", "no-such-client")


def test_usage_and_refusals(cli: Cli, factory: Factory, http: httpx.Client) -> None:
    """Usage errors (argparse) and values the rules refuse: 2; what cannot be done: 1."""
    assert "usage:" in cli.fails(2, "token", "revoke", real=True)
    assert "usage:" in cli.fails(2, "app", "update", "x", "--silent", "--no-silent")
    # the same rules as the forms and the API (c42.validation)
    assert "at least 8 characters" in cli.fails(
        2, "user", "create", "s@example.com", "--password", "short"
    )
    assert "name must not be empty" in cli.fails(2, "service", "create", " ")
    person = factory.user()
    assert "between 60 and" in cli.fails(2, "token", "create", person.email, "--expires-in", "59")
    assert cli.json("token", "create", person.email, "--expires-in", "60")["token"]
    assert "exists" in cli.fails(1, "user", "create", person.email)
    # ... and the API and the registration page refuse the same
    api = http.post(
        "/api/v2/user-tokens/",
        json={"email": person.email, "password": "whatever", "expires_in": 59},
    )
    assert api.status_code == 400 and "expires_in" in api.json()["error"]["message"]
    page = http.get("/accounts/register/")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": csrf, "email": "short@example.com", "password": "short"}
    refused = http.post("/accounts/register/", data={**form, "first_name": "S", "last_name": ""})
    assert refused.status_code == 400 and "Use at least 8 characters." in refused.text
