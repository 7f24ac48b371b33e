"""Every state-changing form refuses a POST the browser says came from another site, even with
a valid CSRF token (defence in depth beside the token and SameSite): `Sec-Fetch-Site` other
than `same-origin`/`none`, or an `Origin` that is not this server's (`null` included, unless
`Sec-Fetch-Site: same-origin` vouches for it), is a 403 with the CSRF error page, and nothing
changes. The same POST from this site goes through. (tests/web/test_browser.py and
tests/oauth/test_browser.py post the forms from a real Chromium.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from c42.db import Database
from c42.models import OAuthAuthorizationCode, OAuthConsent
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.oauth.helpers import App, Browser, make_app, new_browser, person_with_password
from tests.web.helpers import get_form, is_logged_in
from tests.web.test_csrf import FORMS

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def _same_origin(base_url: str) -> dict[str, str]:
    return {"Origin": base_url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def _refused(answer: httpx.Response) -> bool:
    """The CSRF refusal: the HTML page for a browser, else the JSON envelope."""
    return answer.status_code == 403 and (
        "Form expired" in answer.text or answer.json()["error"]["code"] == "csrf_failed"
    )


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_account_form_refuses_a_cross_site_post(
    form: str, web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    case = FORMS[form](web, factory, db, outbox)
    data = {**case.data, "csrf_token": get_form(web, case.page)}
    assert _refused(web.post(case.path, data=data, headers=CROSS_SITE))
    case.unchanged()
    answer = web.post(case.path, data=data, headers=_same_origin(str(web.base_url)))
    assert answer.status_code in (200, 303), answer.text


def _variants(base_url: str) -> dict[str, dict[str, str]]:
    port = urlsplit(base_url).port
    return {
        "origin-other-site": {"Origin": "https://evil.example"},
        "origin-null": {"Origin": "null"},
        "origin-null-fetch-none": {"Origin": "null", "Sec-Fetch-Site": "none"},
        "origin-other-port": {"Origin": "http://127.0.0.1:1"},
        "origin-other-scheme": {"Origin": f"https://127.0.0.1:{port}"},
        "origin-suffix-host": {"Origin": f"http://127.0.0.1.evil.example:{port}"},
        "origin-with-path": {"Origin": f"{base_url}/accounts/"},
        "origin-garbage": {"Origin": "not an origin"},
        "fetch-cross-site": {"Sec-Fetch-Site": "cross-site"},
        "fetch-same-site": {"Sec-Fetch-Site": "same-site"},
        "fetch-unknown": {"Sec-Fetch-Site": "whatever"},
        "same-origin-fetch-but-foreign-origin": {
            "Sec-Fetch-Site": "same-origin",
            "Origin": "https://evil.example",
        },
    }


VARIANTS = sorted(_variants("http://127.0.0.1:1"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_what_counts_as_cross_site(
    variant: str, web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    case = FORMS["login"](web, factory, db, outbox)
    data = {**case.data, "csrf_token": get_form(web, case.page)}
    headers = _variants(str(web.base_url).rstrip("/"))[variant]
    assert _refused(web.post(case.path, data=data, headers=headers))
    assert not is_logged_in(web)


def test_two_origin_headers_are_refused(
    web: httpx.Client, factory: Factory, db: Database, outbox: Path
) -> None:
    case = FORMS["login"](web, factory, db, outbox)
    data = {**case.data, "csrf_token": get_form(web, case.page)}
    own = str(web.base_url).rstrip("/")
    headers = [("Origin", own), ("Origin", "https://evil.example")]
    assert _refused(web.post(case.path, data=data, headers=headers))
    assert not is_logged_in(web)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        # What Chromium sends from our pages (their Referrer-Policy is no-referrer).
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
        {"Origin": "http://127.0.0.1:8042"},  # the configured issuer (behind a proxy, say)
        {},  # a program: the CSRF token alone decides
    ],
    ids=["fetch-same-origin", "fetch-none", "null-origin-same-origin", "issuer-origin", "none"],
)
def test_what_counts_as_this_site(
    headers: dict[str, str],
    web: httpx.Client,
    factory: Factory,
    db: Database,
    outbox: Path,
    settings: Settings,
) -> None:
    assert settings.issuer == "http://127.0.0.1:8042"
    case = FORMS["login"](web, factory, db, outbox)
    data = {**case.data, "csrf_token": get_form(web, case.page)}
    assert web.post(case.path, data=data, headers=headers).status_code == 303
    assert is_logged_in(web)


# -- the consent form and the connected-apps page -------------------------------------------


@pytest.fixture
def oauth_user(server: LiveServer, factory: Factory) -> Iterator[tuple[Browser, str]]:
    person = person_with_password(factory)
    service_id = factory.service("Cross-site Test Service")
    factory.subscribe(service_id, person)
    b = new_browser(server.url)
    b.login(person)
    yield b, service_id
    b.http.close()


def _codes_and_consents(db: Database, app: App) -> tuple[int, int]:
    codes = select(func.count()).where(OAuthAuthorizationCode.app_id == app.id)
    consents = select(func.count()).where(OAuthConsent.app_id == app.id)
    with db.session(write=False) as session:
        return int(session.scalar(codes) or 0), int(session.scalar(consents) or 0)


def test_consent_refuses_a_cross_site_post(
    oauth_user: tuple[Browser, str], db: Database, settings: Settings
) -> None:
    b, service_id = oauth_user
    app = make_app(db, settings, service_id)
    params = {"response_type": "code", "client_id": app.client_id, "state": "s"}
    page = b.authorize(params)
    assert page.status_code == 200, page.text
    form = {**dict(_HIDDEN.findall(page.text)), "decision": "allow"}
    assert _refused(b.http.post("/oauth2/authorize/", data=form, headers=CROSS_SITE))
    assert _codes_and_consents(db, app) == (0, 0)
    own = _same_origin(str(b.http.base_url))
    answer = b.http.post("/oauth2/authorize/", data=form, headers=own)
    assert answer.status_code == 302 and "code=" in answer.headers["location"]


def test_disconnecting_an_app_refuses_a_cross_site_post(
    oauth_user: tuple[Browser, str], db: Database, settings: Settings
) -> None:
    b, service_id = oauth_user
    app = make_app(db, settings, service_id)
    b.code(app)
    token = get_form(b.http, "/account/apps/")
    path = f"/account/apps/{app.id}/revoke/"
    assert _refused(b.http.post(path, data={"csrf_token": token}, headers=CROSS_SITE))
    assert _codes_and_consents(db, app)[1] == 1
    own = _same_origin(str(b.http.base_url))
    assert b.http.post(path, data={"csrf_token": token}, headers=own).status_code == 303
    assert _codes_and_consents(db, app)[1] == 0
