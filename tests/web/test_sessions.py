"""Browser sessions are kept on the server (issue 10, item 17): a copied cookie stops working
the moment its session ends (logout, password reset, deactivation, an operator), the session
id changes at login, and the database holds only the secret's digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from c42.auth import browser_sessions
from c42.cli.main import main
from c42.db import Database
from c42.models import BrowserSession, utcnow
from c42.settings import Settings, get_settings
from c42.web.session import COOKIE_NAME
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.web.helpers import (
    PASSWORD,
    browser,
    cookie_payload,
    csrf_from,
    get_form,
    is_logged_in,
    link_in,
    log_in,
    logged_in_with,
    path_of,
    session_cookie,
    submit,
    wait_for_mail,
)


@contextmanager
def logged_in_browser(server: LiveServer, person: Person) -> Iterator[httpx.Client]:
    with browser(server.url) as client:
        assert log_in(client, person.email, PASSWORD).status_code == 303
        yield client


def clears_the_cookie(response: httpx.Response) -> bool:
    cookie = response.headers.get("set-cookie", "")
    return cookie.startswith(f"{COOKIE_NAME}=") and "expires=Thu, 01 Jan 1970" in cookie


def cookie_of(client: httpx.Client) -> str:
    value = client.cookies.get(COOKIE_NAME)
    assert value, "no session cookie"
    return value


def rows_of(db: Database, user_id: str) -> list[BrowserSession]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(BrowserSession)
                .where(BrowserSession.user_id == user_id)
                .order_by(BrowserSession.created)
            )
        )


def digest_of_cookie(cookie: str) -> str:
    return hashlib.sha256(cookie_payload(cookie)["sid"].encode()).hexdigest()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`c42` in this process, on the test database."""
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- what is stored, what the cookie holds ---------------------------------------------------


def test_the_cookie_holds_only_the_secret_and_the_table_only_its_digest(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as client:
        client.headers["User-Agent"] = "Test\tBrowser/1.0 " + "x" * 300
        assert log_in(client, person.email, PASSWORD).status_code == 303
        cookie = cookie_of(client)
    payload = cookie_payload(cookie)
    assert set(payload) == {"sid"}  # nothing else: no user id, no CSRF token
    secret = payload["sid"]
    assert len(secret) >= 43  # 256 bits, URL-safe base64
    [row] = rows_of(db, person.id)
    assert row.session_digest == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(getattr(row, c.key)) for c in BrowserSession.__table__.columns]
    assert not any(secret in value for value in stored)
    assert row.revoked_at is None
    assert row.auth_time == row.created == row.last_seen
    assert row.expires_at - row.created == browser_sessions.MAX_AGE == timedelta(days=14)
    assert row.ip == "127.0.0.1"
    assert row.user_agent.startswith("TestBrowser/1.0 xxx")  # control characters dropped
    assert len(row.user_agent) == browser_sessions.USER_AGENT_LENGTH


# -- what ends a session --------------------------------------------------------------------


def test_a_cookie_replayed_after_logout_is_not_logged_in(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as client:
        cookie = cookie_of(client)
        assert logged_in_with(server.url, cookie)  # a copy works while the session lives
        token = get_form(client, "/accounts/logout/")
        answer = client.post("/accounts/logout/", data={"csrf_token": token})
        assert answer.status_code == 303
        assert clears_the_cookie(answer)
    assert not logged_in_with(server.url, cookie)  # ...and its copy is worthless
    [row] = rows_of(db, person.id)
    assert row.revoked_at is not None


def test_logout_ends_only_this_browsers_session(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as laptop, logged_in_browser(server, person) as phone:
        submit(laptop, "/accounts/logout/", {})
        assert not is_logged_in(laptop)
        assert is_logged_in(phone)
    assert [row.revoked_at is None for row in rows_of(db, person.id)] == [False, True]


def test_a_password_reset_ends_every_session_of_the_user(
    server: LiveServer, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    bystander = factory.user(password=PASSWORD)
    with (
        logged_in_browser(server, person) as first,
        logged_in_browser(server, person) as second,
        logged_in_browser(server, bystander) as other,
        browser(server.url) as resetter,
    ):
        copies = [cookie_of(first), cookie_of(second)]
        submit(resetter, "/accounts/password-reset/", {"email": person.email})
        link = path_of(link_in(wait_for_mail(outbox, person.email, "Reset")))
        assert submit(resetter, link, {"password": "a brand new password"}).status_code == 303
        assert not is_logged_in(first)
        assert not is_logged_in(second)
        assert is_logged_in(other)  # another user's session is untouched
    assert not any(logged_in_with(server.url, copy) for copy in copies)
    assert all(row.revoked_at is not None for row in rows_of(db, person.id))
    assert all(row.revoked_at is None for row in rows_of(db, bystander.id))


@pytest.mark.usefixtures("cli")
def test_c42_user_deactivate_ends_the_sessions_for_good(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as client:
        cookie = cookie_of(client)
        assert main(["user", "deactivate", person.email]) == 0
        assert not is_logged_in(client)
        assert not logged_in_with(server.url, cookie)
        # Activating the account again does not bring the old sessions back.
        assert main(["user", "activate", person.email]) == 0
        assert not logged_in_with(server.url, cookie)
    assert all(row.revoked_at is not None for row in rows_of(db, person.id))


@pytest.mark.usefixtures("cli")
def test_c42_user_end_sessions(
    server: LiveServer, factory: Factory, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as first, logged_in_browser(server, person) as second:
        assert main(["user", "end-sessions", person.email.upper(), "--json"]) == 0
        assert '"ended": 2' in capsys.readouterr().out
        assert not is_logged_in(first)
        assert not is_logged_in(second)
        assert log_in(first, person.email, PASSWORD).status_code == 303  # log in again: fine
        assert is_logged_in(first)
    assert main(["user", "end-sessions", "nobody-here@example.com"]) == 1  # 1: not found
    assert [row.revoked_at is None for row in rows_of(db, person.id)] == [False, False, True]


def test_end_sessions_can_keep_one(server: LiveServer, factory: Factory, db: Database) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as kept, logged_in_browser(server, person) as ended:
        keep = rows_of(db, person.id)[0].id
        with db.session() as session:
            assert browser_sessions.end_sessions(session, person.id, keep=keep) == 1
        assert is_logged_in(kept)
        assert not is_logged_in(ended)


# -- lifetimes --------------------------------------------------------------------------------


def _age(db: Database, user_id: str, **values: object) -> None:
    with db.session() as session:
        session.execute(
            update(BrowserSession).where(BrowserSession.user_id == user_id).values(**values)
        )


def test_an_idle_session_ends_and_so_does_an_old_one(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    idle, old = factory.user(password=PASSWORD), factory.user(password=PASSWORD)
    with logged_in_browser(server, idle) as idle_client, logged_in_browser(server, old) as old_one:
        now = utcnow()
        almost_idle = now - browser_sessions.IDLE_TIMEOUT + timedelta(minutes=5)
        _age(db, idle.id, last_seen=almost_idle)
        assert is_logged_in(idle_client)  # within the idle limit: still on, and seen now
        _age(db, idle.id, last_seen=now - browser_sessions.IDLE_TIMEOUT - timedelta(minutes=1))
        assert not is_logged_in(idle_client)
        _age(db, old.id, expires_at=now - timedelta(seconds=1), last_seen=now)
        assert not is_logged_in(old_one)  # past the absolute limit, however active


def test_last_seen_is_written_at_most_once_a_minute(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with logged_in_browser(server, person) as client:
        [row] = rows_of(db, person.id)
        assert is_logged_in(client)
        assert rows_of(db, person.id)[0].last_seen == row.last_seen  # within the minute
        two_minutes_ago = utcnow() - timedelta(minutes=2)
        _age(db, person.id, last_seen=two_minutes_ago)
        assert is_logged_in(client)
        assert rows_of(db, person.id)[0].last_seen > two_minutes_ago + timedelta(minutes=1)


# -- login rotates everything (session fixation) ----------------------------------------------


def test_login_starts_a_new_session_and_ends_the_previous_one(
    server: LiveServer, factory: Factory, db: Database
) -> None:
    person = factory.user(password=PASSWORD)
    with browser(server.url) as client:
        get_form(client, "/accounts/login/")
        before = cookie_of(client)
        assert "sid" not in cookie_payload(before)  # anonymous: a CSRF token only
        assert log_in(client, person.email, PASSWORD).status_code == 303
        first = cookie_of(client)
        assert log_in(client, person.email, PASSWORD).status_code == 303  # again, same browser
        second = cookie_of(client)
    assert digest_of_cookie(first) != digest_of_cookie(second)
    assert not logged_in_with(server.url, before)
    assert not logged_in_with(server.url, first)  # the earlier session ended at the new login
    assert logged_in_with(server.url, second)
    assert [row.revoked_at is None for row in rows_of(db, person.id)] == [False, True]


def test_a_pre_login_cookie_is_worthless_after_login(server: LiveServer, factory: Factory) -> None:
    """Fixation: an attacker obtains (or plants) the victim's cookie before login."""
    victim = factory.user(password=PASSWORD)
    with browser(server.url) as attacker, browser(server.url) as target:
        stolen_token = get_form(attacker, "/accounts/login/")
        stolen = cookie_of(attacker)
        target.cookies.set(COOKIE_NAME, stolen)  # planted in the victim's browser
        answer = target.post(
            "/accounts/login/",
            data={"email": victim.email, "password": PASSWORD, "csrf_token": stolen_token},
        )
        assert answer.status_code == 303
        assert is_logged_in(target)
        assert not is_logged_in(attacker)
        assert not logged_in_with(server.url, stolen)
        # The stolen CSRF token does not work in the victim's new session either.
        refused = target.post("/accounts/logout/", data={"csrf_token": stolen_token})
        assert refused.status_code == 403
        assert is_logged_in(target)
        assert csrf_from(target.get("/accounts/logout/").text) != stolen_token


def test_unknown_or_forged_session_secrets_are_anonymous(
    server: LiveServer, settings: Settings
) -> None:
    for secret in ("", "x", "a" * 43, "\u00e9" * 10, "a" * 5000):
        cookie = session_cookie(settings, {"sid": secret})
        assert not logged_in_with(server.url, cookie)
    dead = session_cookie(settings, {"sid": "gone"})
    with browser(server.url) as client:
        # The cookie of a dead session is turned back into an anonymous one.
        answer = client.get("/accounts/", headers={"Cookie": f"{COOKIE_NAME}={dead}"})
        assert answer.status_code == 302
        assert clears_the_cookie(answer)
