"""The merge (SPEC §5.4): when the owner of the address has a verified, active account and
completes the normal authorize + consent for an app of the same service, the sandbox's
calendars, events and subscriptions become theirs in one transaction (ids kept, sync tokens
advanced), the sandbox is closed and its tokens revoked. Unverified accounts never merge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from c42 import sandbox_merge as merge_module
from c42.access.permissions import Permission
from c42.db import Database
from c42.models import (
    AuditEvent,
    CalendarSubscription,
    EventSubscription,
    OAuthAuthorizationCode,
    OAuthConsent,
    OAuthToken,
    User,
    utcnow,
)
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.silent.browsing import PASSWORD, Browser, link_in, next_of, wait_for_mail
from tests.silent.helpers import (
    NORMAL_EVENT,
    App,
    address,
    bearer,
    create,
    exchange,
    make_app,
    sandbox_token,
    sandbox_users,
    silent,
)


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    b = Browser(server.url)
    yield b
    b.close()


def fill_sandbox(client: httpx.Client, token: dict[str, Any]) -> dict[str, Any]:
    h = bearer(token)
    calendar = create(client, h, "/api/v2/calendars/", {"name": "Sandbox calendar"})
    event = create(client, h, "/api/v2/events/", {**NORMAL_EVENT, "calendar_ids": [calendar["id"]]})
    todo = create(client, h, "/api/v2/events/", {"event_type": "todo", "title": "Buy milk"})
    listed = client.get("/api/v2/events/", headers=h).json()
    return {
        "calendar": calendar,
        "event": event,
        "todo": todo,
        "sync_token": listed["meta_data"]["sync_token"],
    }


def listing(client: httpx.Client, headers: dict[str, str], path: str, **query: Any) -> list[Any]:
    response = client.get(path, headers=headers, params={"limit": 100, **query})
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


def token_for(client: httpx.Client, app: App, code: str) -> dict[str, Any]:
    response = exchange(client, app, code)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def user_row(db: Database, user_id: str) -> User:
    with db.session(write=False) as session:
        user = session.get(User, user_id)
    assert user is not None
    return user


def events_of(db: Database, kind: str, user_id: str) -> list[AuditEvent]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.type == kind, AuditEvent.user_id == user_id)
            )
        )


def test_end_to_end_silent_then_register_verify_and_consent(
    client: httpx.Client,
    db: Database,
    settings: Settings,
    browser: Browser,
    app: App,
) -> None:
    email = address("merge")
    sandbox = sandbox_token(client, app, email)
    data = fill_sandbox(client, sandbox)
    [sandbox_user] = sandbox_users(db, email)
    before = {e["id"]: e for e in listing(client, bearer(sandbox), "/api/v2/events/")}
    assert set(before) == {data["event"]["id"], data["todo"]["id"]}

    # The person arrives through the app's normal flow, registers (another spelling of the
    # same mailbox), follows the e-mailed link and allows the app.
    answer, _ = browser.authorize(app)
    assert answer.status_code == 302 and "/accounts/login/" in answer.headers["location"]
    next_url = next_of(answer.headers["location"])
    browser.register(next_url, "  " + email.upper())
    mail = wait_for_mail(Path(settings.outbox_dir), email, "Confirm")
    verified = browser.follow(link_in(mail))
    assert verified.status_code in (302, 303), verified.text
    assert verified.headers["location"].startswith("/oauth2/authorize/")
    consent_page = browser.follow(verified.headers["location"])
    answer = browser.consent(consent_page, "allow")
    assert answer.status_code == 302 and answer.headers["location"].startswith(app.redirect_uri)
    code = answer.headers["location"].split("code=")[1].split("&")[0]
    theirs = token_for(client, app, code)
    h = bearer(theirs)

    with db.session(write=False) as session:
        real = session.scalar(
            select(User).where(User.email == email, User.sandbox_service_id.is_(None))
        )
        assert real is not None and real.email_verified and real.is_active
        real_id = real.id
    # The data is theirs: same ids, creator rewritten.
    after = {e["id"]: e for e in listing(client, h, "/api/v2/events/")}
    assert set(after) == set(before)
    assert all(e["creator"] == real_id for e in after.values())
    assert after[data["event"]["id"]]["calendar_ids"] == [data["calendar"]["id"]]
    [calendar] = listing(client, h, "/api/v2/calendars/")
    assert calendar["id"] == data["calendar"]["id"] and calendar["creator"] == real_id
    subscriptions = listing(client, h, "/api/v2/event-subscriptions/")
    assert {s["event_id"] for s in subscriptions} == set(before)
    assert {s["subscriber"]["user_id"] for s in subscriptions} == {real_id}
    # Clients syncing from before the merge see every moved row again.
    synced = listing(client, h, "/api/v2/events/", sync_token=data["sync_token"])
    assert {e["id"] for e in synced} == set(before)
    assert all(e["sync_token"] > data["sync_token"] for e in synced)
    synced = listing(client, h, "/api/v2/calendars/", sync_token=data["sync_token"])
    assert [c["id"] for c in synced] == [data["calendar"]["id"]]
    # The app's new token can change and share the data now.
    shared = client.patch(
        f"/api/v2/events/{data['todo']['id']}/", json={"title": "Milk"}, headers=h
    )
    assert shared.status_code == 200

    # The sandbox is closed; its tokens are dead (access at once: evicted from the cache).
    dead = client.get("/api/v2/events/", headers=bearer(sandbox))
    assert dead.status_code == 401
    refreshed = client.post(
        "/oauth2/token/",
        data={"grant_type": "refresh_token", "refresh_token": sandbox["refresh_token"]},
        auth=app.auth,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    closed = user_row(db, sandbox_user.id)
    assert closed.closed_at is not None and closed.email == email
    with db.session(write=False) as session:
        rows = list(session.scalars(select(OAuthToken).where(OAuthToken.user_id == closed.id)))
        assert rows and all(r.access_revoked_at and r.refresh_revoked_at for r in rows)
        assert session.scalar(select(OAuthConsent).where(OAuthConsent.user_id == closed.id)) is None
        code_rows = select(OAuthAuthorizationCode).where(
            OAuthAuthorizationCode.user_id == closed.id
        )
        assert session.scalar(code_rows) is None
    [event] = events_of(db, "sandbox_merged", real_id)
    assert event.client_id == app.client_id
    assert event.detail["sandbox_user_id"] == closed.id
    assert event.detail["events"] == 2 and event.detail["calendars"] == 1
    # The address now has an activated account: the silent flow sends the app to the normal one.
    assert silent(client, app, email)["error"] == "interaction_required"


def _unverified_owner_with_sandbox(
    client: httpx.Client, db: Database, factory: Factory, app: App
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """An active account whose address is not verified (it can log in; it does not block the
    silent flow), and a sandbox of its address with data in it."""
    person = factory.user(password=PASSWORD, verified=False)
    sandbox = sandbox_token(client, app, person.email)
    return person.id, person.email, sandbox, fill_sandbox(client, sandbox)


def _verify(db: Database, user_id: str) -> None:
    with db.session() as session:
        session.execute(update(User).where(User.id == user_id).values(email_verified=True))


def test_an_unverified_account_never_merges_and_remembered_consent_merges_once_verified(
    client: httpx.Client, db: Database, factory: Factory, browser: Browser, app: App
) -> None:
    real_id, email, sandbox, data = _unverified_owner_with_sandbox(client, db, factory, app)
    browser.login(email)
    code = browser.code_for(app)  # consent page, Allow
    unverified = bearer(token_for(client, app, code))
    assert listing(client, unverified, "/api/v2/events/") == []  # nothing merged
    assert client.get("/api/v2/events/", headers=bearer(sandbox)).status_code == 200
    assert events_of(db, "sandbox_merged", real_id) == []

    _verify(db, real_id)
    assert client.get("/api/v2/events/", headers=bearer(sandbox)).status_code == 200  # cached
    answer, _ = browser.authorize(app)  # remembered consent: no page, straight back
    assert answer.status_code == 302, answer.text
    # Evicted from this process's credential cache at once, not after the cache's TTL.
    assert client.get("/api/v2/events/", headers=bearer(sandbox)).status_code == 401
    code = answer.headers["location"].split("code=")[1].split("&")[0]
    merged = bearer(token_for(client, app, code))
    ids = {e["id"] for e in listing(client, merged, "/api/v2/events/")}
    assert ids == {data["event"]["id"], data["todo"]["id"]}
    assert len(events_of(db, "sandbox_merged", real_id)) == 1


def test_consent_to_another_app_of_the_service_merges_only_that_services_sandbox(
    client: httpx.Client,
    db: Database,
    settings: Settings,
    factory: Factory,
    browser: Browser,
    app: App,
) -> None:
    real_id, email, sandbox, data = _unverified_owner_with_sandbox(client, db, factory, app)
    other_service_app = make_app(db, settings, factory.service("Elsewhere"))
    elsewhere = sandbox_token(client, other_service_app, email)
    elsewhere_data = fill_sandbox(client, elsewhere)
    _verify(db, real_id)
    web_app = make_app(db, settings, app.service_id, silent=False)  # same service, not silent
    browser.login(email)
    token = bearer(token_for(client, web_app, browser.code_for(web_app)))
    ids = {e["id"] for e in listing(client, token, "/api/v2/events/")}
    assert ids == {data["event"]["id"], data["todo"]["id"]}
    assert client.get("/api/v2/events/", headers=bearer(sandbox)).status_code == 401
    # The other service's sandbox of the same address is untouched and still open.
    still = {e["id"] for e in listing(client, bearer(elsewhere), "/api/v2/events/")}
    assert still == {elsewhere_data["event"]["id"], elsewhere_data["todo"]["id"]}
    open_boxes = [u for u in sandbox_users(db, email) if u.closed_at is None]
    assert [u.sandbox_service_id for u in open_boxes] == [other_service_app.service_id]


def test_subscriptions_to_the_same_object_keep_the_stronger_one(
    client: httpx.Client, db: Database, factory: Factory, browser: Browser, app: App
) -> None:
    real_id, email, _, data = _unverified_owner_with_sandbox(client, db, factory, app)
    [box] = sandbox_users(db, email)
    event_id, todo_id, calendar_id = data["event"]["id"], data["todo"]["id"], data["calendar"]["id"]
    now = utcnow()
    with db.session() as session:
        # The API never lets this happen; the merge must cope with it anyway.
        weak = EventSubscription(
            event_id=event_id, user_id=real_id, permission=Permission.INVITED_READ, sync_token=1
        )
        strong = EventSubscription(
            event_id=todo_id, user_id=real_id, permission=Permission.SUBSCRIBED_WRITE, sync_token=1
        )
        left = CalendarSubscription(
            calendar_id=calendar_id,
            user_id=real_id,
            permission=Permission.REMOVED,
            deleted_at=now,
            sync_token=1,
        )
        session.add_all([weak, strong, left])
        session.flush()
        kept_ids = {"weak": weak.id, "strong": strong.id, "left": left.id}
        session.execute(
            update(EventSubscription)
            .where(EventSubscription.event_id == todo_id, EventSubscription.user_id == box.id)
            .values(permission=Permission.INVITED_READ)
        )
    _verify(db, real_id)
    browser.login(email)
    token = bearer(token_for(client, app, browser.code_for(app)))

    with db.session(write=False) as session:
        event_rows = {
            row.event_id: row
            for row in session.scalars(
                select(EventSubscription).where(EventSubscription.event_id.in_([event_id, todo_id]))
            )
        }
        calendar_rows = list(
            session.scalars(
                select(CalendarSubscription).where(CalendarSubscription.calendar_id == calendar_id)
            )
        )
    # One row per object, the account's own (id kept), with the stronger permission.
    assert {r.user_id for r in event_rows.values()} == {real_id}
    assert event_rows[event_id].id == kept_ids["weak"]
    assert event_rows[event_id].permission == Permission.SUBSCRIBED_WRITE  # the sandbox's
    assert event_rows[todo_id].id == kept_ids["strong"]
    assert event_rows[todo_id].permission == Permission.SUBSCRIBED_WRITE  # the account's
    [calendar_row] = calendar_rows
    assert calendar_row.id == kept_ids["left"] and calendar_row.user_id == real_id
    assert (
        calendar_row.permission == Permission.SUBSCRIBED_WRITE and calendar_row.deleted_at is None
    )
    ids = {e["id"] for e in listing(client, token, "/api/v2/events/")}
    assert ids == {event_id, todo_id}
    assert [c["id"] for c in listing(client, token, "/api/v2/calendars/")] == [calendar_id]


def _snapshot(db: Database, user_ids: list[str]) -> dict[str, Any]:
    """Every row either account relates to, as plain values."""
    from sqlalchemy import or_

    from c42.models import Calendar, Event, EventCalendar, ServiceSubscription, SyncCounter

    def rows(statement: Any) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in session.execute(statement).all())

    with db.session(write=False) as session:
        calendars = rows(
            select(Calendar.__table__).where(
                or_(
                    Calendar.creator_id.in_(user_ids),
                    Calendar.id.in_(
                        select(CalendarSubscription.calendar_id).where(
                            CalendarSubscription.user_id.in_(user_ids)
                        )
                    ),
                )
            )
        )
        return {
            "users": rows(select(User.__table__).where(User.id.in_(user_ids))),
            "calendars": calendars,
            "events": rows(select(Event.__table__).where(Event.creator_id.in_(user_ids))),
            "event_calendars": rows(
                select(EventCalendar.__table__).where(
                    EventCalendar.calendar_id.in_([c[0] for c in calendars])
                )
            ),
            "event_subscriptions": rows(
                select(EventSubscription.__table__).where(
                    or_(
                        EventSubscription.user_id.in_(user_ids),
                        EventSubscription.actor_id.in_(user_ids),
                    )
                )
            ),
            "calendar_subscriptions": rows(
                select(CalendarSubscription.__table__).where(
                    CalendarSubscription.user_id.in_(user_ids)
                )
            ),
            "service_subscriptions": rows(
                select(ServiceSubscription.__table__).where(
                    ServiceSubscription.user_id.in_(user_ids)
                )
            ),
            "sandbox_tokens": rows(
                select(OAuthToken.__table__).where(OAuthToken.user_id == user_ids[1])
            ),
            "sandbox_codes": rows(
                select(OAuthAuthorizationCode.__table__).where(
                    OAuthAuthorizationCode.user_id == user_ids[1]
                )
            ),
            "merged_events": rows(
                select(AuditEvent.__table__).where(
                    AuditEvent.type == "sandbox_merged", AuditEvent.user_id.in_(user_ids)
                )
            ),
            "sync_counter": rows(select(SyncCounter.__table__)),
        }


@pytest.mark.parametrize(
    "failing_step",
    ["move_events", "move_calendars", "move_subscriptions", "retire_credentials", "close"],
)
def test_a_failure_midway_changes_nothing(
    client: httpx.Client,
    db: Database,
    factory: Factory,
    browser: Browser,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    failing_step: str,
) -> None:
    real_id, email, sandbox, data = _unverified_owner_with_sandbox(client, db, factory, app)
    [box] = sandbox_users(db, email)
    _verify(db, real_id)
    browser.login(email)
    before = _snapshot(db, [real_id, box.id])
    step = getattr(merge_module, failing_step)
    calls: list[int] = []

    def fail_on_last_call(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        # move_subscriptions runs twice (events, then calendars): fail the second time, after
        # the first one has written.
        if failing_step == "move_subscriptions" and len(calls) == 1:
            return step(*args, **kwargs)
        step(*args, **kwargs)  # do the step's writes, then fail
        raise RuntimeError("injected failure")

    monkeypatch.setattr(merge_module, failing_step, fail_on_last_call)
    code = browser.code_for(app)  # the sign-in still succeeds
    monkeypatch.undo()
    assert calls, "the injected step never ran"
    assert _snapshot(db, [real_id, box.id]) == before
    assert len(events_of(db, "sandbox_merge_failed", real_id)) == 1
    # The sandbox still works and keeps its data; the account got nothing of it.
    still = {e["id"] for e in listing(client, bearer(sandbox), "/api/v2/events/")}
    assert still == {data["event"]["id"], data["todo"]["id"]}
    assert listing(client, bearer(token_for(client, app, code)), "/api/v2/events/") == []

    # Without the failure, the next (remembered) consent merges.
    merged = bearer(token_for(client, app, browser.code_for(app)))
    ids = {e["id"] for e in listing(client, merged, "/api/v2/events/")}
    assert ids == {data["event"]["id"], data["todo"]["id"]}
    assert client.get("/api/v2/events/", headers=bearer(sandbox)).status_code == 401


def test_a_logged_in_browser_still_gets_the_silent_answer_for_the_address(
    client: httpx.Client, db: Database, factory: Factory, browser: Browser, app: App
) -> None:
    person = factory.user(password=PASSWORD)
    browser.login(person.email)
    email = address("other")
    answer, _ = browser.authorize(app, email_address=email)
    assert answer.status_code == 302 and answer.headers["location"].startswith(app.redirect_uri)
    code = answer.headers["location"].split("code=")[1].split("&")[0]
    token = token_for(client, app, code)
    introspected = client.post(
        "/oauth2/introspect/", data={"token": token["access_token"]}, auth=app.auth
    ).json()
    [box] = sandbox_users(db, email)
    assert introspected["sub"] == box.id != person.id  # the sandbox, never the logged-in user
    with db.session(write=False) as session:
        consent = select(OAuthConsent).where(OAuthConsent.user_id == person.id)
        assert session.scalar(consent) is None  # no consent was given or recorded
