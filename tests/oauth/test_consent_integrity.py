"""What the user approves on the consent page is exactly the validated authorization request
(RFC 6749 §4.1.1, §10.12): the page seals it; the answer applies to the sealed request only.

Fields added to the form by hand (a wider `scope`, another `redirect_uri` or `client_id`, an
`email_address`) are ignored; a sealed value that was edited, forged, expired, or shown to
another user or another login is refused with an error page, and no code or consent record is
written.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from c42.db import Database
from c42.models import OAuthAuthorizationCode, OAuthConsent
from c42.settings import Settings
from c42.web import consent_request
from c42.web.session import derive_key
from tests.conftest import LiveServer
from tests.factories import Person
from tests.oauth.helpers import (
    WEB_REDIRECT,
    App,
    Browser,
    csrf_of,
    exchange,
    make_app,
    new_browser,
    query_of,
)

AUTHORIZE = "/oauth2/authorize/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_SEALED = re.compile(r'name="consent_request" value="([^"]+)"')


def _params(app: App, scope: str = "service.read") -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": scope,
        "state": "st-9",
    }


def _page(browser: Browser, app: App, scope: str = "service.read") -> tuple[str, str]:
    """(sealed request, CSRF token) of the consent page for `app`."""
    page = browser.authorize(_params(app, scope))
    assert page.status_code == 200 and 'id="consent-form"' in page.text, page.text
    match = _SEALED.search(page.text)
    assert match, "no sealed request on the consent page"
    return match.group(1), csrf_of(page.text)


def _answer(browser: Browser, fields: list[tuple[str, str]]) -> httpx.Response:
    return browser.http.post(AUTHORIZE, content=urlencode(fields), headers=FORM)


def _codes_and_consents(db: Database, app: App) -> tuple[int, int]:
    with db.session(write=False) as session:
        codes = session.scalar(select(func.count()).where(OAuthAuthorizationCode.app_id == app.id))
        consents = session.scalar(select(func.count()).where(OAuthConsent.app_id == app.id))
    return int(codes or 0), int(consents or 0)


def _assert_refused(answer: httpx.Response, db: Database, app: App) -> None:
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert _codes_and_consents(db, app) == (0, 0)


def _code(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(WEB_REDIRECT + "?")
    query = query_of(answer.headers["location"])
    assert query["state"] == "st-9"
    return query["code"]


# -- fields added by hand are ignored -------------------------------------------------------


def test_an_edited_scope_field_is_ignored(
    browser: Browser, web_app: App, client: httpx.Client, db: Database
) -> None:
    sealed, csrf = _page(browser, web_app, "service.read")
    fields = [("csrf_token", csrf), ("consent_request", sealed), ("decision", "allow")]
    fields += [("scope", "service.write"), ("scope", "service.read service.write")]
    code = _code(_answer(browser, fields))
    token = exchange(client, web_app, code)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "service.read"  # what the page asked for, nothing more
    with db.session(write=False) as session:
        granted = session.scalar(
            select(OAuthConsent.scope).where(OAuthConsent.app_id == web_app.id)
        )
    assert granted == "service.read"


def test_other_client_redirect_uri_or_address_fields_are_ignored(
    browser: Browser, web_app: App, db: Database, settings: Settings, client: httpx.Client
) -> None:
    other = make_app(db, settings, web_app.service_id, redirect_uris=["https://evil.example/cb"])
    sealed, csrf = _page(browser, web_app)
    fields = [("csrf_token", csrf), ("consent_request", sealed), ("decision", "allow")]
    fields += [("client_id", other.client_id), ("redirect_uri", "https://evil.example/cb")]
    fields += [("email_address", "someone@example.com"), ("response_type", "token")]
    code = _code(_answer(browser, fields))  # to web_app's own redirect URI
    assert exchange(client, web_app, code).status_code == 200  # a code of web_app
    assert _codes_and_consents(db, other) == (0, 0)


# -- the sealed value ------------------------------------------------------------------------


def _flip(value: str, index: int) -> str:
    return value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]


@pytest.mark.parametrize("decision", ["allow", "deny"])
@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: _flip(s, 5),  # in the payload
        lambda s: _flip(s, len(s) - 3),  # in the signature
        lambda s: s.split(".")[0],  # no signature
        lambda s: "",
    ],
    ids=["payload", "signature", "unsigned", "empty"],
)
def test_a_tampered_sealed_request_is_refused(
    browser: Browser, web_app: App, db: Database, decision: str, tamper: Any
) -> None:
    sealed, csrf = _page(browser, web_app)
    fields = [("csrf_token", csrf), ("consent_request", tamper(sealed)), ("decision", decision)]
    _assert_refused(_answer(browser, fields), db, web_app)


def test_no_sealed_request_is_refused(browser: Browser, web_app: App, db: Database) -> None:
    _, csrf = _page(browser, web_app)
    fields = [("csrf_token", csrf), ("decision", "allow"), *_params(web_app).items()]
    _assert_refused(_answer(browser, fields), db, web_app)  # the old hidden-field form


def test_two_sealed_requests_are_refused(browser: Browser, web_app: App, db: Database) -> None:
    first, csrf = _page(browser, web_app, "service.read")
    second, _ = _page(browser, web_app, "service.read service.write")
    fields = [("csrf_token", csrf), ("consent_request", first), ("consent_request", second)]
    _assert_refused(_answer(browser, [*fields, ("decision", "allow")]), db, web_app)


def _seal(settings: Settings, payload: dict[str, Any], age: int) -> str:
    """A value sealed with the server's own key and salt, `age` seconds ago."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    key = derive_key(settings, "consent")
    return URLSafeTimedSerializer(key, salt=consent_request.SALT, signer=Signer).dumps(payload)


def _payload(app: App, person: Person, csrf: str, scope: str) -> dict[str, Any]:
    return {
        "params": [[name, value] for name, value in _params(app, scope).items()],
        "user": person.id,
        "session": hashlib.sha256(csrf.encode()).hexdigest(),
    }


def test_a_sealed_request_older_than_its_max_age_is_refused(
    browser: Browser, person: Person, web_app: App, db: Database, settings: Settings
) -> None:
    _, csrf = _page(browser, web_app)
    payload = _payload(web_app, person, csrf, "service.read")
    old = _seal(settings, payload, consent_request.MAX_AGE + 5)
    fields = [("csrf_token", csrf), ("consent_request", old), ("decision", "allow")]
    _assert_refused(_answer(browser, fields), db, web_app)
    # The same value sealed just now goes through: only its age made the difference.
    fresh = _seal(settings, payload, 0)
    _code(_answer(browser, [*fields[:1], ("consent_request", fresh), ("decision", "allow")]))


def test_a_value_sealed_with_another_key_is_refused(
    browser: Browser, person: Person, web_app: App, db: Database, settings: Settings
) -> None:
    _, csrf = _page(browser, web_app)
    payload = _payload(web_app, person, csrf, "service.write")
    forged = URLSafeTimedSerializer("guessed-key", salt=consent_request.SALT).dumps(payload)
    fields = [("csrf_token", csrf), ("consent_request", forged), ("decision", "allow")]
    _assert_refused(_answer(browser, fields), db, web_app)


# -- bound to the user and the login it was shown to ----------------------------------------


def test_a_sealed_request_of_another_user_is_refused(
    browser: Browser, fresh_browser: Callable[[], Browser], web_app: App, db: Database
) -> None:
    other = fresh_browser()
    sealed, _ = _page(other, web_app)
    _, csrf = _page(browser, web_app)
    fields = [("csrf_token", csrf), ("consent_request", sealed), ("decision", "allow")]
    _assert_refused(_answer(browser, fields), db, web_app)


def test_a_sealed_request_of_an_earlier_login_is_refused(
    server: LiveServer, person: Person, web_app: App, db: Database
) -> None:
    first = new_browser(server.url)
    second = new_browser(server.url)
    try:
        first.login(person)
        sealed, _ = _page(first, web_app)
        second.login(person)  # the same user, another login
        _, csrf = _page(second, web_app)
        fields = [("csrf_token", csrf), ("consent_request", sealed), ("decision", "allow")]
        _assert_refused(_answer(second, fields), db, web_app)
    finally:
        first.http.close()
        second.http.close()


def test_the_untouched_form_still_works(browser: Browser, web_app: App) -> None:
    assert _code(browser.consent(browser.authorize(_params(web_app)), "allow"))
