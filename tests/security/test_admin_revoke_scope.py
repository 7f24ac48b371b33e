"""A console revoke route names the user whose page it is on: an id of another user's
credential (a crafted or stale form) must not revoke that credential under this user's page
(the page, the notice and the audit trail would name the wrong account)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from c42.db import Database
from c42.models import UserToken
from tests.admin.test_admin_console import cli, console, post, staff  # noqa: F401 (fixtures)
from tests.factories import Factory


def test_a_user_token_of_another_user_is_not_revoked(
    console: httpx.Client,  # noqa: F811
    client: httpx.Client,
    factory: Factory,
    db: Database,
) -> None:
    victim, page_owner = factory.user(), factory.user()
    assert client.get("/api/v2/events/", headers=victim.headers).status_code == 200
    with db.session(write=False) as s:
        token_id = s.scalar(select(UserToken.id).where(UserToken.user_id == victim.id))
    page = f"/admin/users/{page_owner.id}/"
    answer = post(console, page, f"{page}user-tokens/{token_id}/revoke/")
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("notice=gone")
    assert client.get("/api/v2/events/", headers=victim.headers).status_code == 200
    # On its owner's page the same id is revoked.
    own = f"/admin/users/{victim.id}/"
    answer = post(console, own, f"{own}user-tokens/{token_id}/revoke/")
    assert answer.status_code == 303 and answer.headers["location"].endswith("notice=revoked")
    assert client.get("/api/v2/events/", headers=victim.headers).status_code == 401
