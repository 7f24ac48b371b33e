"""Bad text at the authorization endpoint (issue 10 items 5, 7, 8; SPEC §6): never a 500,
never a reset connection, never a code.

- `"`, `\\`, controls and non-ASCII in `redirect_uri`: not registered, so the error page
  (RFC 6749 §4.1.2.1); in `response_type`: `unsupported_response_type`, redirected once the
  client and redirect URI are known. Authlib refuses to build an error whose description
  holds such characters: our descriptions never quote the request.
- A control character (or invalid Unicode) in any other parameter, name or value: a redirect
  with `invalid_request` naming the parameter (`c42.text`, `c42.auth.oauth.wellformed`); in
  `client_id`: an unknown client (the error page), also on PostgreSQL, which refuses NUL.
- Loopback ports are ASCII digits: fullwidth "51" is no port, so such a URI matches nothing
  (RFC 8252 §7.3 matching, RFC 3986 §3.2.3).
Every error_description is within RFC 6749 §5.2's characters.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from c42.db import Database
from c42.errors import InvalidRequest
from c42.models import OAuthApp, OAuthAuthorizationCode
from c42.settings import Settings
from tests.oauth.helpers import WEB_REDIRECT, App, Browser, make_app, pkce, query_of

# RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
CONTROLS = {
    "nul": "\x00",
    "soh": "\x01",
    "tab": "\t",
    "lf": "\n",
    "cr": "\r",
    "esc": "\x1b",
    "del": "\x7f",
    "c1-nel": "\x85",
    "c1-csi": "\x9b",
}
# What Authlib cannot put in an error_description, and more that is not a URI.
ODD_TEXT = {
    "quote": '"',
    "backslash": "\\",
    "e-acute": "é",
    "line-separator": "\u2028",
    "emoji": "\U0001f600",
    "rtl-override": "\u202e",
    **CONTROLS,
}
OTHER_SCRIPTS_DIGITS = {
    "fullwidth": "\uff15\uff11",
    "arabic-indic": "\u0665\u0661",
    "devanagari": "\u096b\u0967",
    "superscript": "\u00b9",
    "mixed": "5\uff11",
}


def _params(app: App, **extra: str) -> dict[str, str]:
    _, challenge = pkce()
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def _codes(db: Database) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(OAuthAuthorizationCode)) or 0)


def _apps(db: Database) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(OAuthApp)) or 0)


def _assert_error_page(answer: httpx.Response) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")


def _assert_redirected_error(
    answer: httpx.Response, settings: Settings, error: str, state: str = "st-1"
) -> str:
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    location = answer.headers["location"]
    assert location.startswith(WEB_REDIRECT + "?"), location
    query = query_of(location)
    assert query["error"] == error, query
    assert query["state"] == state
    assert query["iss"] == settings.issuer
    assert "code" not in query
    assert DESCRIPTION.fullmatch(query["error_description"]), query
    return query["error_description"]


@pytest.mark.parametrize("text", ODD_TEXT.values(), ids=ODD_TEXT.keys())
@pytest.mark.parametrize("where", ["path", "host", "query"])
def test_odd_redirect_uri_is_an_error_page(
    browser: Browser, web_app: App, db: Database, text: str, where: str
) -> None:
    uri = {
        "path": f"{WEB_REDIRECT}{text}",
        "host": f"https://client{text}.example/callback",
        "query": f"{WEB_REDIRECT}?x={text}",
    }[where]
    before = _codes(db)
    answer = browser.authorize(_params(web_app, redirect_uri=uri))
    _assert_error_page(answer)
    assert "is not registered for this application" in answer.text
    assert _codes(db) == before


@pytest.mark.parametrize("text", ODD_TEXT.values(), ids=ODD_TEXT.keys())
def test_odd_response_type_is_unsupported(
    browser: Browser, web_app: App, settings: Settings, db: Database, text: str
) -> None:
    before = _codes(db)
    answer = browser.authorize(_params(web_app, response_type=f"co{text}de"))
    description = _assert_redirected_error(answer, settings, "unsupported_response_type")
    assert description == "Only response_type=code is supported."
    assert _codes(db) == before


@pytest.mark.parametrize("text", ['"', "\\", "é", "\x00"], ids=["quote", "bs", "e", "nul"])
def test_odd_response_type_of_an_unknown_client_is_an_error_page(
    browser: Browser, text: str
) -> None:
    answer = browser.authorize({"response_type": text, "client_id": "nobody", "state": "s"})
    _assert_error_page(answer)
    assert "response_type=code" in answer.text


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize(
    "name", ["state", "scope", "code_challenge", "code_challenge_method", "service_id"]
)
def test_control_character_in_a_parameter_is_invalid_request(
    browser: Browser, web_app: App, settings: Settings, db: Database, name: str, text: str
) -> None:
    params = _params(web_app)
    params[name] = params.get(name, "x") + text
    before = _codes(db)
    answer = browser.authorize(params)
    state = params["state"]
    description = _assert_redirected_error(answer, settings, "invalid_request", state)
    assert f"Parameter '{name}'" in description
    assert _codes(db) == before


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
def test_control_character_in_an_unknown_parameter_is_invalid_request(
    browser: Browser, web_app: App, settings: Settings, text: str
) -> None:
    for extra in ({"prompt": f"x{text}"}, {f"x{text}y": "1"}):
        answer = browser.authorize(_params(web_app, **extra))
        description = _assert_redirected_error(answer, settings, "invalid_request")
        assert "control character" in description


def test_control_character_in_a_silent_email_address_is_invalid_request(
    anonymous: Browser, db: Database, settings: Settings, service_id: str
) -> None:
    """SPEC §5.4: the address is never looked up (PostgreSQL refuses NUL); no sandbox."""
    app = make_app(db, settings, service_id, silent=True)
    before = _codes(db)
    for address in ("a\x00b@example.com", "a@example.com\n", "\x1b@example.com"):
        answer = anonymous.authorize(_params(app, email_address=address, scope="service.read"))
        _assert_redirected_error(answer, settings, "invalid_request")
    assert _codes(db) == before


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
def test_control_character_in_client_id_is_an_unknown_client(
    browser: Browser, web_app: App, db: Database, text: str
) -> None:
    before = _codes(db)
    for client_id in (text, web_app.client_id + text, text + web_app.client_id):
        answer = browser.authorize(_params(web_app, client_id=client_id))
        _assert_error_page(answer)
        assert "not registered here" in answer.text
    assert _codes(db) == before


def test_clean_request_still_shows_the_consent_page(browser: Browser, web_app: App) -> None:
    """The rule refuses control characters only: any other Unicode in `state` passes."""
    answer = browser.authorize(_params(web_app, state='état ✓ "q" \\'))
    assert answer.status_code == 200, answer.text
    assert 'id="consent-form"' in answer.text


@pytest.mark.parametrize("digits", OTHER_SCRIPTS_DIGITS.values(), ids=OTHER_SCRIPTS_DIGITS.keys())
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
def test_loopback_port_in_other_digits_matches_nothing(
    browser: Browser, native_app_all_loopbacks: App, db: Database, host: str, digits: str
) -> None:
    """RFC 8252 §7.3: any port, but a port is ASCII digits. Fullwidth "51" would have matched, sent
    the browser to a URI never registered and crashed the consent page (issue 10 item 8)."""
    before = _codes(db)
    uri = f"http://{host}:{digits}/callback"
    answer = browser.authorize(_params(native_app_all_loopbacks, redirect_uri=uri))
    _assert_error_page(answer)
    assert "is not registered for this application" in answer.text
    assert _codes(db) == before


def test_loopback_port_in_ascii_digits_still_matches(
    browser: Browser, native_app_all_loopbacks: App
) -> None:
    uri = "http://127.0.0.1:51/callback"
    page = browser.authorize(_params(native_app_all_loopbacks, redirect_uri=uri))
    assert page.status_code == 200, page.text
    assert browser.consent(page, "allow").headers["location"].startswith(uri + "?")


@pytest.mark.parametrize(
    "uri",
    [
        "https://bücher.example/callback",
        "https://client.example/ca\u0301llback",
        "http://127.0.0.1:\uff15\uff11/callback",
        "https://client.example/call back",
        "https://client.example/{callback}",
        'https://client.example/"callback"',
        "https://client.example/\\callback",
        "https://client.example/call\x7fback",
    ],
)
def test_registering_a_redirect_uri_that_is_not_ascii_is_refused(
    db: Database, settings: Settings, service_id: str, uri: str
) -> None:
    """RFC 3986 §2: a URI is visible ASCII (an IRI is registered in its URI form,
    RFC 3987 §3.1), so every registered URI can be matched, redirected to and put in the
    consent page's CSP."""
    before = _apps(db)
    with pytest.raises(InvalidRequest):
        make_app(db, settings, service_id, public=True, redirect_uris=[uri])
    assert _apps(db) == before


@pytest.fixture
def native_app_all_loopbacks(db: Database, settings: Settings, service_id: str) -> App:
    uris = [
        "http://127.0.0.1/callback",
        "http://[::1]/callback",
        "http://localhost/callback",
    ]
    return make_app(db, settings, service_id, public=True, redirect_uris=uris)
