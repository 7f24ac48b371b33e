"""RFC 7636 (PKCE), S256 only; required for public apps and apps set to require it; enforced
for confidential apps whenever a challenge was sent (RFC 9700 §2.1.1, §4.8). A failed
verification uses the code up, so that verifiers cannot be guessed online."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from c42.auth import secrets
from c42.db import Database
from c42.models import OAuthAuthorizationCode, OAuthToken
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, exchange, make_app, pkce, query_of


def _code_state(db: Database, code: str) -> tuple[bool, int]:
    """(the code is marked used, how many token pairs were issued from it)."""
    with db.session(write=False) as session:
        row = session.scalar(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_digest == secrets.digest(code)
            )
        )
        assert row is not None
        issued = session.scalar(
            select(func.count()).select_from(OAuthToken).where(OAuthToken.code_id == row.id)
        )
    return row.used_at is not None, int(issued or 0)


def _authorize(browser: Browser, app: App, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "pk",
        **extra,
    }
    return browser.authorize(params)


def _redirect_error(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == "pk"
    return query["error"]


_, GOOD = pkce()
AUTHORIZE_REFUSALS = {
    "public-without-challenge": ({}, "public"),
    "public-plain": ({"code_challenge": GOOD, "code_challenge_method": "plain"}, "public"),
    "public-method-missing": ({"code_challenge": GOOD}, "public"),  # absent means plain
    "public-method-lowercase": (
        {"code_challenge": GOOD, "code_challenge_method": "s256"},
        "public",
    ),
    "public-challenge-too-short": (
        {"code_challenge": "abc", "code_challenge_method": "S256"},
        "public",
    ),
    "public-challenge-bad-chars": (
        {"code_challenge": "!" * 43, "code_challenge_method": "S256"},
        "public",
    ),
    "method-without-challenge": ({"code_challenge_method": "S256"}, "public"),
    "required-confidential-without-challenge": ({}, "require_pkce"),
    "confidential-plain": ({"code_challenge": GOOD, "code_challenge_method": "plain"}, "web"),
}


@pytest.mark.parametrize(
    ("extra", "kind"), AUTHORIZE_REFUSALS.values(), ids=AUTHORIZE_REFUSALS.keys()
)
def test_authorize_refusals(
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
    extra: dict[str, str],
    kind: str,
) -> None:
    app = make_app(
        db,
        settings,
        service_id,
        public=kind == "public",
        require_pkce=kind == "require_pkce",
    )
    assert _redirect_error(_authorize(browser, app, **extra)) == "invalid_request"


def test_public_app_with_s256(browser: Browser, native_app: App, client: httpx.Client) -> None:
    verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    answer = exchange(client, native_app, code, verifier)
    assert answer.status_code == 200, answer.text


TOKEN_CASES = {
    # (app kind, send challenge at authorize, verifier at token) -> expected error or None
    "public-right-verifier": ("public", True, "right", None),
    "public-wrong-verifier": ("public", True, "wrong", "invalid_grant"),
    "public-no-verifier": ("public", True, None, "invalid_request"),  # downgrade
    "public-verifier-too-short": ("public", True, "short", "invalid_request"),
    "confidential-no-pkce": ("web", False, None, None),  # C42's own example client
    "confidential-right-verifier": ("web", True, "right", None),
    "confidential-wrong-verifier": ("web", True, "wrong", "invalid_grant"),
    "confidential-downgrade": ("web", True, None, "invalid_request"),
    "confidential-verifier-without-challenge": ("web", False, "right", "invalid_request"),
    "required-right-verifier": ("require_pkce", True, "right", None),
}


@pytest.mark.parametrize(
    ("kind", "challenge", "verifier", "error"), TOKEN_CASES.values(), ids=TOKEN_CASES.keys()
)
def test_token_endpoint_verifies(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    service_id: str,
    kind: str,
    challenge: bool,
    verifier: str | None,
    error: str | None,
) -> None:
    app = make_app(
        db, settings, service_id, public=kind == "public", require_pkce=kind == "require_pkce"
    )
    right, sent_challenge = pkce()
    code = browser.code(app, challenge=sent_challenge if challenge else None)
    sent = {"right": right, "wrong": pkce()[0], "short": "abc", None: None}[verifier]
    answer = exchange(client, app, code, sent)
    if error is None:
        assert answer.status_code == 200, answer.text
        return
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    # RFC 7636 §4.6, RFC 9700 §4.8: a failed redemption by the code's client uses it up.
    assert _code_state(db, code) == (True, 0)
    again = exchange(client, app, code, right if challenge else None)
    assert again.json()["error"] == "invalid_grant"
    assert _code_state(db, code) == (True, 0)


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_guessing_verifiers_uses_the_code_up(
    browser: Browser,
    client: httpx.Client,
    db: Database,
    settings: Settings,
    service_id: str,
    kind: str,
) -> None:
    """Three wrong verifiers, then the right one: no token is ever issued."""
    app = make_app(db, settings, service_id, public=kind == "public")
    right, challenge = pkce()
    code = browser.code(app, challenge=challenge)
    for _ in range(3):
        wrong = exchange(client, app, code, pkce()[0])
        assert wrong.status_code == 400, wrong.text
        assert wrong.json()["error"] == "invalid_grant"
    late = exchange(client, app, code, right)
    assert late.status_code == 400, late.text
    assert late.json()["error"] == "invalid_grant"
    assert "access_token" not in late.json()
    assert _code_state(db, code) == (True, 0)


def test_challenge_is_bound_to_the_code(
    browser: Browser, native_app: App, client: httpx.Client, db: Database
) -> None:
    """Another flow's verifier does not redeem this flow's code (and uses it up)."""
    first_verifier, first_challenge = pkce()
    second_verifier, second_challenge = pkce()
    first = browser.code(native_app, challenge=first_challenge)
    second = browser.code(native_app, challenge=second_challenge)
    assert exchange(client, native_app, first, second_verifier).json()["error"] == "invalid_grant"
    assert exchange(client, native_app, first, first_verifier).json()["error"] == "invalid_grant"
    assert _code_state(db, first) == (True, 0)
    assert exchange(client, native_app, second, second_verifier).status_code == 200


def test_another_clients_attempt_does_not_use_the_code_up(
    browser: Browser, native_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    """Only the code's own client gets its one attempt (RFC 6749 §4.1.3: bound to it)."""
    other = make_app(db, settings, native_app.service_id, public=True)
    verifier, challenge = pkce()
    code = browser.code(native_app, challenge=challenge)
    assert exchange(client, other, code, pkce()[0]).json()["error"] == "invalid_grant"
    assert _code_state(db, code) == (False, 0)
    assert exchange(client, native_app, code, verifier).status_code == 200
