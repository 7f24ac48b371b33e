"""Registration (SPEC §5.3): an inactive account, a verification mail, activation by the
link, login and `next`; no account enumeration; placeholders from invitations."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select

from c42 import accounts
from c42.db import Database
from c42.models import AuditEvent, User
from tests.factories import Factory, unique_email
from tests.web.helpers import (
    PASSWORD,
    browser,
    is_logged_in,
    link_in,
    log_in,
    mails_to,
    path_of,
    submit,
    wait_for_mail,
)

NEXT = "/accounts/?from=register"


def register(
    client: httpx.Client,
    email: str,
    password: str = PASSWORD,
    next_url: str | None = NEXT,
    **names: str,
) -> httpx.Response:
    page = "/accounts/register/" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    data = {"email": email, "password": password, "first_name": "Ada", "last_name": "Lovelace"}
    data.update(names)
    if next_url:
        data["next"] = next_url
    return submit(client, "/accounts/register/", data, page=page)


def user_row(db: Database, email: str) -> User | None:
    with db.session(write=False) as s:
        return accounts.find_user(s, email)


def test_register_page_keeps_the_form_contract(web: httpx.Client) -> None:
    html = web.get("/accounts/register/?next=/oauth2/authorize/%3Fclient_id%3Dx").text
    assert '<form id="register-form"' in html
    for name in ("email", "password", "first_name", "last_name", "csrf_token"):
        assert f'name="{name}"' in html
    assert 'name="next" value="/oauth2/authorize/?client_id=x"' in html
    assert 'href="/accounts/login/?next=%2Foauth2%2Fauthorize%2F%3Fclient_id%3Dx"' in html


def test_register_verify_activates_logs_in_and_continues_to_next(
    web: httpx.Client, db: Database, outbox: Path
) -> None:
    email = unique_email("reg")
    response = register(web, email.upper())  # normalised: one mailbox, one account
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    user = user_row(db, email)
    assert user is not None and not user.is_active and not user.email_verified
    assert user.first_name == "Ada" and user.password_hash and PASSWORD not in user.password_hash
    assert not is_logged_in(web)

    mail = wait_for_mail(outbox, email, "Confirm")
    link = link_in(mail)
    assert link.startswith("http://127.0.0.1:8042/accounts/verify/")  # C42_ISSUER default
    response = web.get(path_of(link))
    assert response.status_code == 303
    assert response.headers["location"] == NEXT
    user = user_row(db, email)
    assert user is not None and user.is_active and user.email_verified
    assert is_logged_in(web)
    with db.session(write=False) as s:
        kinds = s.scalars(select(AuditEvent.type).where(AuditEvent.user_id == user.id))
        assert "email_verified" in list(kinds)

    # The link is used up; the account logs in with its password from now on.
    assert web.get(path_of(link)).status_code == 400
    with browser(str(web.base_url)) as other:
        assert log_in(other, email, PASSWORD).status_code == 303
        assert is_logged_in(other)


def test_unverified_account_cannot_log_in(web: httpx.Client, db: Database) -> None:
    email = unique_email("unverified")
    register(web, email)
    response = log_in(web, email, PASSWORD)
    assert response.status_code == 400
    assert "Confirm your e-mail address first" in response.text
    assert not is_logged_in(web)


def test_link_opened_in_another_browser_asks_for_the_password(
    web: httpx.Client, db: Database, outbox: Path
) -> None:
    """Someone who registers a victim's address cannot get the victim's one click to activate
    an account with the registrant's password: elsewhere the link needs that password."""
    email = unique_email("elsewhere")
    register(web, email)
    link = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))
    with browser(str(web.base_url)) as other:
        page = other.get(link)
        assert page.status_code == 200
        assert 'id="verify-form"' in page.text
        assert user_row(db, email).is_active is False  # type: ignore[union-attr]
        wrong = submit(other, link, {"password": "not the password"})
        assert wrong.status_code == 400
        assert user_row(db, email).is_active is False  # type: ignore[union-attr]
        right = submit(other, link, {"password": PASSWORD})
        assert right.status_code == 303 and right.headers["location"] == NEXT
        assert is_logged_in(other)
    assert user_row(db, email).is_active is True  # type: ignore[union-attr]


def test_registering_again_replaces_the_password_and_the_old_link(
    web: httpx.Client, db: Database, outbox: Path
) -> None:
    email = unique_email("again")
    register(web, email, "first-password")
    first_link = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))
    register(web, email, "second-password")
    second_link = path_of(link_in(wait_for_mail(outbox, email, "Confirm", count=2)))
    assert web.get(first_link).status_code == 400  # superseded
    assert web.get(second_link).status_code == 303
    with browser(str(web.base_url)) as other:
        assert log_in(other, email, "first-password").status_code == 400
        assert log_in(other, email, "second-password").status_code == 303


def test_existing_active_account_gets_the_same_answer_and_an_exists_mail(
    web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password="old-password-1")
    before = user_row(db, person.email)
    fresh = register(web, unique_email("neutral"))
    existing = register(web, person.email, "attacker-password")
    assert existing.status_code == fresh.status_code == 200
    assert "Check your inbox" in existing.text
    after = user_row(db, person.email)
    assert before is not None and after is not None
    assert after.password_hash == before.password_hash  # nothing changed
    assert after.first_name == before.first_name
    mail = wait_for_mail(outbox, person.email, "already have")
    assert "/accounts/password-reset/" in str(mail.get_body(("plain",)))
    assert not [m for m in mails_to(outbox, person.email) if "Confirm" in str(m["Subject"])]


def test_placeholder_account_from_an_invitation_gets_its_password(
    web: httpx.Client, db: Database, outbox: Path
) -> None:
    email = unique_email("invited")
    with db.session() as s:  # what an invitation by e-mail leaves behind
        placeholder = accounts.create_user(s, email, None, active=False, verified=False)
        placeholder_id = placeholder.id
    register(web, email)
    web.get(path_of(link_in(wait_for_mail(outbox, email, "Confirm"))))
    user = user_row(db, email)
    assert user is not None and user.id == placeholder_id  # same account, ids kept
    assert user.is_active and user.email_verified and user.first_name == "Ada"
    assert is_logged_in(web)


def test_deactivated_account_is_not_reactivated_by_registering(
    web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    person = factory.user(password="old-password-1", active=False)
    response = register(web, person.email)
    assert response.status_code == 200 and "Check your inbox" in response.text
    user = user_row(db, person.email)
    assert user is not None and not user.is_active
    assert not mails_to(outbox, person.email)


def _count_users(db: Database) -> int:
    with db.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


def test_invalid_input_is_a_400_that_writes_nothing(web: httpx.Client, db: Database) -> None:
    cases = {
        "email": {"email": "not-an-address"},
        "password": {"password": "short"},
        "first_name": {"first_name": ""},
        "last_name": {"last_name": "x" * 151},
    }
    for field, change in cases.items():
        before = _count_users(db)
        data = {"email": unique_email("bad"), "password": PASSWORD, **change}
        response = register(web, **data)  # type: ignore[arg-type]
        assert response.status_code == 400, field
        assert f'id="{field}-error"' in response.text, field
        assert 'aria-invalid="true"' in response.text
        assert _count_users(db) == before, field


def test_forged_or_altered_links_are_refused(web: httpx.Client, outbox: Path) -> None:
    email = unique_email("forged")
    register(web, email)
    link = path_of(link_in(wait_for_mail(outbox, email, "Confirm")))
    altered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for path in (altered, "/accounts/verify/garbage", "/accounts/verify/" + "x" * 2000):
        response = web.get(path)
        assert response.status_code == 400, path
        assert "does not work" in response.text
    assert not is_logged_in(web)
