"""Password reset by e-mail (SPEC §5.3): a neutral answer, a single-use expiring link; the
reset ends the user's browser sessions and revokes their OAuth tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from c42 import accounts
from c42.db import Database
from c42.models import AuditEvent, OAuthApp, OAuthToken, new_id, utcnow
from tests.factories import Factory, Person, unique_email
from tests.web.helpers import (
    PASSWORD,
    browser,
    get_form,
    is_logged_in,
    link_in,
    log_in,
    mails_to,
    path_of,
    submit,
    wait_for_mail,
)

NEW_PASSWORD = "a brand new password"


def request_reset(client: httpx.Client, email: str) -> httpx.Response:
    return submit(client, "/accounts/password-reset/", {"email": email})


def reset_link(client: httpx.Client, outbox: Path, email: str, count: int = 1) -> str:
    request_reset(client, email)
    return path_of(link_in(wait_for_mail(outbox, email, "Reset", count=count)))


def oauth_tokens_for(db: Database, factory: Factory, person: Person) -> list[str]:
    """Two live OAuth token rows for `person` (as the token endpoint would leave them)."""
    service_id = factory.service("Reset test service")
    ids = []
    with db.session() as s:
        app = OAuthApp(
            client_id=new_id(),
            service_id=service_id,
            name="App",
            redirect_uris=["https://app.example/cb"],
            allowed_scopes="service.read",
        )
        s.add(app)
        s.flush()
        now = utcnow()
        for _ in range(2):
            token = OAuthToken(
                app_id=app.id,
                user_id=person.id,
                access_digest=secrets.token_hex(32),
                refresh_digest=secrets.token_hex(32),
                scope="service.read",
                family_id=new_id(),
                access_expires_at=now + timedelta(hours=1),
                refresh_expires_at=now + timedelta(days=30),
            )
            s.add(token)
            s.flush()
            ids.append(token.id)
    return ids


def test_reset_ends_sessions_revokes_tokens_and_changes_the_password(
    web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    token_ids = oauth_tokens_for(db, factory, person)
    with browser(str(web.base_url)) as elsewhere:  # an existing session on another device
        assert log_in(elsewhere, person.email, PASSWORD).status_code == 303
        assert is_logged_in(elsewhere)

        link = reset_link(web, outbox, person.email)
        page = web.get(link)
        assert page.status_code == 200 and 'id="new-password-form"' in page.text
        assert person.email in page.text
        response = submit(web, link, {"password": NEW_PASSWORD})
        assert response.status_code == 303
        assert response.headers["location"] == "/accounts/login/?notice=password-changed"
        assert "Your password was changed" in web.get(response.headers["location"]).text

        assert not is_logged_in(elsewhere)  # SPEC §5.3: the reset ends browser sessions
    with db.session(write=False) as s:
        tokens = s.scalars(select(OAuthToken).where(OAuthToken.id.in_(token_ids))).all()
        assert len(tokens) == 2
        assert all(t.refresh_revoked_at is not None for t in tokens)
        assert all(t.access_revoked_at is not None for t in tokens)
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.user_id == person.id, AuditEvent.type == "password_reset"
            )
        )
        assert event is not None and event.detail == {"revoked_oauth_tokens": 2}

    assert log_in(web, person.email, PASSWORD).status_code == 400
    assert log_in(web, person.email, NEW_PASSWORD).status_code == 303
    # The API's password login sees the new password too.
    api = web.post("/api/v2/user-tokens/", json={"email": person.email, "password": NEW_PASSWORD})
    assert api.status_code == 201


def test_the_link_works_once(web: httpx.Client, factory: Factory, outbox: Path) -> None:
    person = factory.user(password=PASSWORD)
    link = reset_link(web, outbox, person.email)
    assert submit(web, link, {"password": NEW_PASSWORD}).status_code == 303
    assert web.get(link).status_code == 400
    token = get_form(web, "/accounts/password-reset/")
    replay = web.post(link, data={"password": "third password!", "csrf_token": token})
    assert replay.status_code == 400
    assert log_in(web, person.email, NEW_PASSWORD).status_code == 303


def test_an_older_link_dies_when_the_password_changes(
    web: httpx.Client, factory: Factory, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    first = reset_link(web, outbox, person.email)
    second = reset_link(web, outbox, person.email, count=2)
    assert submit(web, second, {"password": NEW_PASSWORD}).status_code == 303
    assert web.get(first).status_code == 400


def test_unknown_inactive_and_malformed_addresses_get_the_same_answer_and_no_mail(
    web: httpx.Client, factory: Factory, outbox: Path
) -> None:
    known = factory.user(password=PASSWORD)
    inactive = factory.user(password=PASSWORD, active=False)
    unknown = unique_email("nobody")
    answers = {email: request_reset(web, email) for email in (known.email, inactive.email, unknown)}
    malformed = request_reset(web, "not an address")
    texts = {response.text for response in answers.values()}
    assert all(r.status_code == 200 for r in [*answers.values(), malformed])
    assert len(texts) == 1  # identical pages
    wait_for_mail(outbox, known.email, "Reset")
    assert not mails_to(outbox, inactive.email)
    assert not mails_to(outbox, unknown)


def test_short_password_is_refused_and_nothing_changes(
    web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    link = reset_link(web, outbox, person.email)
    with db.session(write=False) as s:
        before = accounts.get_user(s, person.email).password_hash
    response = submit(web, link, {"password": "short"})
    assert response.status_code == 400
    assert "at least 8 characters" in response.text
    with db.session(write=False) as s:
        assert accounts.get_user(s, person.email).password_hash == before
    assert web.get(link).status_code == 200  # still usable


def test_links_are_bound_to_their_purpose(
    web: httpx.Client, factory: Factory, outbox: Path
) -> None:
    person = factory.user(password=PASSWORD)
    link = reset_link(web, outbox, person.email)
    token = link.rsplit("/", 1)[1]
    assert web.get(f"/accounts/verify/{token}").status_code == 400
    assert web.get("/accounts/password-reset/not-a-token").status_code == 400
