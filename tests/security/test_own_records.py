"""/accounts/security/ shows a user their own records (SPEC §8), but where a change came from
is only theirs to see when they made it (or nobody did: a failed login against the account).
A staff user's console action on the account, or another user's action on a credential the
account holds, must not hand that person's IP address and browser to this user."""

from __future__ import annotations

import httpx

from c42.db import Database
from tests.admin.test_admin_console import cli, console, last_record, staff  # noqa: F401
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import PASSWORD
from tests.web.helpers import browser, csrf_from, log_in

STAFF_AGENT = "StaffBrowser/9.9 (secret-workstation-42)"


def test_a_staff_action_does_not_show_the_staff_members_address(
    server: LiveServer,
    console: httpx.Client,  # noqa: F811
    factory: Factory,
    db: Database,
) -> None:
    person = factory.user(password=PASSWORD)
    page = f"/admin/users/{person.id}/"
    token = csrf_from(console.get(page).text)
    answer = console.post(
        f"{page}verify/", data={"csrf_token": token}, headers={"User-Agent": STAFF_AGENT}
    )
    assert answer.status_code == 303
    record = last_record(db, "admin.user_verify")
    assert record.user_id == person.id and record.user_agent == STAFF_AGENT  # the console sees it

    with browser(server.url) as web:
        web.headers["User-Agent"] = "PersonBrowser/1.0"
        assert log_in(web, person.email, PASSWORD).status_code == 303
        shown = web.get("/accounts/security/")
    assert shown.status_code == 200
    assert "Changed by an administrator" in shown.text
    assert STAFF_AGENT not in shown.text
    assert "PersonBrowser/1.0" in shown.text  # their own login still shows where it came from
