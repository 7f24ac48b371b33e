"""The device grant's consent is a record like any app's (STYLE §9, issue 16): an Allow on
/device/ stores the app's consent and its `consent_given` audit record, the app shows under
/account/apps/ and Disconnect ends its tokens and any allowed code the device has not redeemed.
The page still asks for every device code, even when a consent covers the scopes
(RFC 8628 §5.4, remote phishing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from c42.db import Database
from c42.models import AuditEvent, OAuthConsent
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, bearer, csrf_of, make_app
from tests.oauth.test_rfc8628_device import decide, enter_code, error_of, poll, started


@pytest.fixture
def tv_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, public=True, device=True)


def _consent(db: Database, app: App, user_id: str) -> str | None:
    with db.session(write=False) as session:
        return session.scalar(
            select(OAuthConsent.scope).where(
                OAuthConsent.app_id == app.id, OAuthConsent.user_id == user_id
            )
        )


def _audit(db: Database, user_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.user_id == user_id)
            .order_by(AuditEvent.time, AuditEvent.id)
        )
        return [(row.type, row.client_id, dict(row.detail or {})) for row in rows]


def _user_id(browser: Browser) -> str:
    assert browser.person is not None
    return browser.person.id


def test_allow_is_stored_as_consent_listed_and_audited(
    client: httpx.Client, tv_app: App, fresh_browser: Callable[[], Browser], db: Database
) -> None:
    person = fresh_browser()
    user_id = _user_id(person)
    body = started(client, tv_app, scope="service.read")
    assert decide(person, body["user_code"], "allow").status_code == 200
    assert _consent(db, tv_app, user_id) == "service.read"
    token = poll(client, tv_app, body["device_code"])
    assert token.status_code == 200, token.text

    listed = person.http.get("/account/apps/")
    assert listed.status_code == 200 and f'id="app-{tv_app.id}"' in listed.text
    kinds = [(kind, client_id) for kind, client_id, _ in _audit(db, user_id)]
    assert ("consent_given", tv_app.client_id) in kinds
    assert ("credential_issued", tv_app.client_id) in kinds
    assert kinds.index(("consent_given", tv_app.client_id)) < kinds.index(
        ("credential_issued", tv_app.client_id)
    )
    [given] = [d for kind, _, d in _audit(db, user_id) if kind == "consent_given"]
    assert given == {"scope": "service.read"}


def test_deny_stores_no_consent(
    client: httpx.Client, tv_app: App, fresh_browser: Callable[[], Browser], db: Database
) -> None:
    person = fresh_browser()
    body = started(client, tv_app)
    assert decide(person, body["user_code"], "deny").status_code == 200
    assert _consent(db, tv_app, _user_id(person)) is None
    assert "consent_given" not in [kind for kind, _, _ in _audit(db, _user_id(person))]
    assert error_of(poll(client, tv_app, body["device_code"])) == "access_denied"


def test_a_second_device_code_still_asks(
    client: httpx.Client, tv_app: App, fresh_browser: Callable[[], Browser], db: Database
) -> None:
    """RFC 8628 §5.4: a remembered consent never approves a device code by itself."""
    person = fresh_browser()
    first = started(client, tv_app, scope="service.read")
    assert decide(person, first["user_code"], "allow").status_code == 200
    assert _consent(db, tv_app, _user_id(person)) == "service.read"

    second = started(client, tv_app, scope="service.read")
    page = enter_code(person, second["user_code"])
    assert page.status_code == 200 and 'id="consent-form"' in page.text  # asked again
    assert error_of(poll(client, tv_app, second["device_code"])) == "authorization_pending"
    # Arriving by verification_uri_complete shows the code to confirm, approves nothing.
    landing = person.http.get("/device/", params={"user_code": second["user_code"]})
    assert landing.status_code == 200 and second["user_code"] in landing.text
    assert error_of(poll(client, tv_app, second["device_code"])) in (
        "authorization_pending",
        "slow_down",
    )


def test_disconnect_ends_tokens_and_allowed_unredeemed_codes(
    client: httpx.Client, tv_app: App, fresh_browser: Callable[[], Browser], db: Database
) -> None:
    person = fresh_browser()
    redeemed = started(client, tv_app, scope="service.read")
    assert decide(person, redeemed["user_code"], "allow").status_code == 200
    token = poll(client, tv_app, redeemed["device_code"]).json()
    assert client.get("/api/v2/calendars/", headers=bearer(token)).status_code == 200
    waiting = started(client, tv_app, scope="service.read")  # allowed, not yet polled
    assert decide(person, waiting["user_code"], "allow").status_code == 200

    page = person.http.get("/account/apps/")
    answer = person.http.post(
        f"/account/apps/{tv_app.id}/revoke/", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303
    assert client.get("/api/v2/calendars/", headers=bearer(token)).status_code == 401
    assert _consent(db, tv_app, _user_id(person)) is None
    assert error_of(poll(client, tv_app, waiting["device_code"])) == "access_denied"
    assert "consent_withdrawn" in [kind for kind, _, _ in _audit(db, _user_id(person))]
