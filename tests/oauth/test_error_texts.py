"""SPEC §8: every `/oauth2/*` error carries an `error_description` of ours that names the
parameter or rule at fault, never Authlib's text or a Python value (c42/auth/oauth/error_texts.py).
Each case provokes one error over HTTP and reads the description off the wire: the JSON body,
the `WWW-Authenticate` header, the error redirect and the error page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from c42.auth.oauth import error_texts
from tests.oauth.helpers import App, Browser, pkce, query_of

LIBRARY_WORDS = re.compile(
    r"Missing '|Invalid '|Multiple '|Unsupported '|cannot authenticate with methods|"
    r"does not exist on this server|is not supported by the server|Code challenge failed|"
    r"invalid, unknown, or malformed|\[|\]|\{|\}|None"
)


def _ours(description: str | None, names: str) -> None:
    assert description, "every error has a description"
    assert not LIBRARY_WORDS.search(description), description
    assert description.isascii() and '"' not in description and "\\" not in description
    assert names in description, (names, description)


UNKNOWN = "x" * 43
SHORT_CHALLENGE = {"code_challenge": "short", "code_challenge_method": "S256"}
TOKEN_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("no-grant-type", {}, "unsupported_grant_type", "grant_type"),
    ("password-grant", {"grant_type": "password"}, "unsupported_grant_type", "grant_type"),
    ("no-code", {"grant_type": "authorization_code"}, "invalid_request", "code"),
    ("bad-code", {"grant_type": "authorization_code", "code": UNKNOWN}, "invalid_grant", "code"),
    ("no-refresh-token", {"grant_type": "refresh_token"}, "invalid_request", "refresh_token"),
    ("unknown-refresh", {"grant_type": "refresh_token", "refresh_token": UNKNOWN}, "invalid_grant",
     "refresh_token"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "error", "names"), [c[1:] for c in TOKEN_CASES],
                         ids=[c[0] for c in TOKEN_CASES])  # fmt: skip
def test_token_endpoint(
    client: httpx.Client, web_app: App, data: dict[str, str], error: str, names: str
) -> None:
    answer = client.post("/oauth2/token/", data=data, auth=web_app.auth)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    _ours(answer.json()["error_description"], names)


@pytest.mark.parametrize("path", ["/oauth2/token/", "/oauth2/revoke/", "/oauth2/introspect/"])
def test_client_authentication(client: httpx.Client, web_app: App, path: str) -> None:
    """Authlib wrote "The client cannot authenticate with methods: ['client_secret_basic', ...]"."""
    data = {"grant_type": "authorization_code", "code": "x", "token": "x"}
    wrong = client.post(path, data=data, auth=(web_app.client_id, "wrong-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    _ours(wrong.json()["error_description"], "client_secret")
    challenge = wrong.headers["www-authenticate"]
    assert challenge.startswith("Basic ") and "client_secret" in challenge
    assert "[" not in challenge
    unknown = client.post(path, data={**data, "client_id": "no-such-client"})
    assert unknown.json()["error"] == "invalid_client"
    _ours(unknown.json()["error_description"], "client_id")


@pytest.mark.parametrize("path", ["/oauth2/revoke/", "/oauth2/introspect/"])
def test_missing_token(client: httpx.Client, web_app: App, path: str) -> None:
    answer = client.post(path, data={}, auth=web_app.auth)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    _ours(answer.json()["error_description"], "token")


def test_pkce_at_the_token_endpoint(
    client: httpx.Client, browser: Browser, native_app: App
) -> None:
    _verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": native_app.redirect_uri,
        "client_id": native_app.client_id,
    }
    missing = client.post("/oauth2/token/", data=form)
    _ours(missing.json()["error_description"], "code_verifier")
    wrong = client.post("/oauth2/token/", data={**form, "code_verifier": "y" * 43})
    assert wrong.json()["error"] == "invalid_grant"
    _ours(wrong.json()["error_description"], "code_verifier")


AUTHORIZE_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("no-response-type", {}, "unsupported_response_type", "response_type"),
    ("implicit", {"response_type": "token"}, "unsupported_response_type", "response_type"),
    ("unknown-scope", {"response_type": "code", "scope": "bogus"}, "invalid_scope", "scope"),
    ("short-challenge", {"response_type": "code", **SHORT_CHALLENGE}, "invalid_request",
     "code_challenge"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "error", "names"), [c[1:] for c in AUTHORIZE_CASES],
                         ids=[c[0] for c in AUTHORIZE_CASES])  # fmt: skip
def test_authorization_error_redirects(
    browser: Browser, web_app: App, params: dict[str, str], error: str, names: str
) -> None:
    request = {"client_id": web_app.client_id, "redirect_uri": web_app.redirect_uri, **params}
    answer = browser.authorize(request)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["error"] == error
    _ours(query.get("error_description"), names)


def test_error_page_uses_our_words(browser: Browser) -> None:
    """Without a valid client the error is a page, not a redirect: the same words."""
    page = browser.authorize({"response_type": "token"})
    assert page.status_code == 400
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert "response_type=code is supported" in text
    assert "None" not in text and "is not supported by the server" not in text


@pytest.mark.parametrize(
    ("error", "description", "names"),
    [
        ("invalid_request", "Multiple 'scope' in request.", "scope"),
        ("invalid_request", "Redirect URI https://x/ is not supported by client.", "redirect URI"),
        ("invalid_request", "Missing 'redirect_uri' in request.", "redirect_uri"),
        ("invalid_request", "Missing 'code_challenge'", "code_challenge"),
        ("invalid_request", "Unsupported 'code_challenge_method'", "code_challenge_method"),
        ("invalid_request", "Invalid 'code_verifier'", "code_verifier"),
        ("invalid_grant", "Invalid 'redirect_uri' in request.", "redirect_uri"),
        ("invalid_client", "Missing 'client_id' parameter.", "client_id"),
        ("unauthorized_client", "The client is not authorized to use 'grant_type=x'", "grant_type"),
        ("invalid_client", None, "Client authentication"),
    ],
)
def test_every_known_library_text_has_ours(error: str, description: str | None, names: str) -> None:
    """Texts no request of the cases above reaches (our own checks answer first)."""
    _ours(error_texts.text_for(error, description), names)


def test_our_own_texts_pass_unchanged() -> None:
    text: Any = "Use one client authentication method, not two."
    assert error_texts.text_for("invalid_request", text) is None
