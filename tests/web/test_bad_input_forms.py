"""Control characters in page forms (issue 10 item 7; SPEC §6): the form is shown again with
an error, 400, and nothing is written — also on PostgreSQL, which refuses NUL in text. Other
Unicode is accepted as before."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from c42 import accounts
from c42.db import Database
from c42.models import User
from tests.factories import Factory, unique_email
from tests.web.helpers import PASSWORD, csrf_from, is_logged_in, log_in, mails_to, submit

CONTROLS = {
    "nul": "\x00",
    "tab": "\t",
    "lf": "\n",
    "esc": "\x1b",
    "del": "\x7f",
    "c1-nel": "\x85",
}


def _users(db: Database) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def _register(web: httpx.Client, **fields: str) -> httpx.Response:
    data = {"first_name": "Ada", "last_name": "Lovelace", "password": PASSWORD, **fields}
    return submit(web, "/accounts/register/", data)


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "password"])
def test_register_with_a_control_character_writes_nothing(
    web: httpx.Client, db: Database, outbox: Path, field: str, text: str
) -> None:
    email = unique_email("ctl")
    value = {"email": email, "password": PASSWORD}.get(field, "Ada")
    before = _users(db)
    answer = _register(web, **{"email": email, field: value[:3] + text + value[3:]})
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="register-form"' in answer.text
    assert f'id="{field}-error"' in answer.text
    assert _users(db) == before
    with db.session(write=False) as session:
        assert accounts.find_user(session, email) is None
    assert mails_to(outbox, email) == []


def test_register_accepts_other_unicode(web: httpx.Client, db: Database) -> None:
    email = unique_email("unicode")
    answer = _register(web, email=email, first_name="Zoë ✓", last_name='Ünal-Ōta "q" \\')
    assert answer.status_code == 200, answer.text[:300]
    with db.session(write=False) as session:
        user = accounts.find_user(session, email)
        assert user is not None
        assert (user.first_name, user.last_name) == ("Zoë ✓", 'Ünal-Ōta "q" \\')


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
def test_login_with_a_control_character_is_a_400_form(
    web: httpx.Client, factory: Factory, text: str
) -> None:
    person = factory.user(password=PASSWORD)
    for email, password in ((person.email + text, PASSWORD), (person.email, PASSWORD + text)):
        answer = log_in(web, email, password)
        assert answer.status_code == 400, answer.text[:300]
        assert 'id="login-form"' in answer.text
        assert not is_logged_in(web)


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
def test_password_reset_request_with_a_control_character_is_a_400_form(
    web: httpx.Client, factory: Factory, outbox: Path, text: str
) -> None:
    person = factory.user(password=PASSWORD)
    answer = submit(web, "/accounts/password-reset/", {"email": person.email + text})
    assert answer.status_code == 400, answer.text[:300]
    assert "Enter your e-mail address." in answer.text
    assert mails_to(outbox, person.email) == []


@pytest.mark.parametrize("raw", ["%00", "%01", "x%7F", "%C2%85"])
def test_disconnect_with_a_control_character_in_the_app_id_is_not_found(
    web: httpx.Client, factory: Factory, raw: str
) -> None:
    person = factory.user(password=PASSWORD)
    assert log_in(web, person.email, PASSWORD).status_code == 303
    token = csrf_from(web.get("/accounts/logout/").text)  # the session's token
    url = httpx.URL(str(web.base_url)).copy_with(raw_path=f"/account/apps/{raw}/revoke/".encode())
    answer = web.post(url, data={"csrf_token": token})
    assert answer.status_code == 404, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert is_logged_in(web)
