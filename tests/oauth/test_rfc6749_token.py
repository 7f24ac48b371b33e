"""RFC 6749 §2.3, §3.2, §4.1.3-§4.1.4, §5.1-§5.2: the token endpoint with authorization codes."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from c42.db import Database
from c42.models import AuditEvent, OAuthAuthorizationCode, utcnow
from c42.settings import Settings
from tests.oauth.helpers import App, Browser, bearer, exchange, make_app, token_request

TOKEN = "/oauth2/token/"


def _assert_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body  # RFC 6749 §5.2 shape, not the C42 envelope
    assert set(body) <= {"error", "error_description", "error_uri"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")


def test_successful_exchange(
    browser: Browser, web_app: App, client: httpx.Client, settings: Settings
) -> None:
    answer = exchange(client, web_app, browser.code(web_app, scope="service.write service.read"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"  # RFC 6749 §5.1
    assert answer.headers["pragma"] == "no-cache"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_lifetime
    assert body["scope"] == "service.read service.write"
    assert body["access_token"] != body["refresh_token"]
    for value in (body["access_token"], body["refresh_token"]):
        assert len(value) >= 43 and not all(c in "0123456789abcdef" for c in value)
    api = client.get("/api/v2/calendars/", headers=bearer(body["access_token"]))
    assert api.status_code == 200


def test_default_scope_is_service_read(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    body = exchange(client, web_app, browser.code(web_app)).json()
    assert body["scope"] == "service.read"


def test_client_secret_post(browser: Browser, web_app: App, client: httpx.Client) -> None:
    code = browser.code(web_app)
    answer = client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
            "client_id": web_app.client_id,
            "client_secret": web_app.client_secret or "",
        },
    )
    assert answer.status_code == 200, answer.text


def test_code_is_single_use_and_replay_revokes(
    browser: Browser, web_app: App, client: httpx.Client, db: Database
) -> None:
    code = browser.code(web_app)
    first = exchange(client, web_app, code)
    assert first.status_code == 200
    tokens = first.json()
    assert client.get("/api/v2/calendars/", headers=bearer(tokens["access_token"])).is_success
    replay = exchange(client, web_app, code)
    _assert_error(replay, "invalid_grant")
    # RFC 6749 §4.1.2: the tokens issued from the code are revoked, at once in this process.
    gone = client.get("/api/v2/calendars/", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["www-authenticate"]
    refreshed = token_request(
        client, web_app, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    _assert_error(refreshed, "invalid_grant")
    with db.session(write=False) as session:
        kinds = session.scalars(
            select(AuditEvent.type).where(AuditEvent.client_id == web_app.client_id)
        ).all()
    assert "authorization_code_reuse" in kinds


def test_code_bound_to_client(
    browser: Browser, web_app: App, client: httpx.Client, db: Database, settings: Settings
) -> None:
    other = make_app(db, settings, web_app.service_id)
    code = browser.code(web_app)
    stolen = token_request(
        client,
        other,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": web_app.redirect_uri},
    )
    _assert_error(stolen, "invalid_grant")
    assert exchange(client, web_app, code).status_code == 200  # still good for its own client


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://client.example/other", "https://client.example/callback/", None],
    ids=["different", "trailing-slash", "missing"],
)
def test_code_bound_to_redirect_uri(
    browser: Browser, web_app: App, client: httpx.Client, redirect_uri: str | None
) -> None:
    code = browser.code(web_app)
    form = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    _assert_error(token_request(client, web_app, form), "invalid_grant")  # RFC 6749 §4.1.3
    # RFC 9700 §4.8: the client's failed redemption used the code up.
    _assert_error(exchange(client, web_app, code), "invalid_grant")


def test_redirect_uri_not_needed_when_not_sent(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    params = {"response_type": "code", "client_id": web_app.client_id, "state": "s"}
    answer = browser.authorize(params)
    if answer.status_code == 200:
        answer = browser.consent(answer, "allow")
    code = httpx.URL(answer.headers["location"]).params["code"]
    form = {"grant_type": "authorization_code", "code": code}
    assert token_request(client, web_app, form).status_code == 200


def test_expired_code(browser: Browser, web_app: App, client: httpx.Client, db: Database) -> None:
    code = browser.code(web_app)
    with db.session() as session:
        session.execute(
            update(OAuthAuthorizationCode)
            .where(OAuthAuthorizationCode.app_id == web_app.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    _assert_error(exchange(client, web_app, code), "invalid_grant")


def test_code_lives_at_most_the_configured_lifetime(
    browser: Browser, web_app: App, db: Database, settings: Settings
) -> None:
    browser.code(web_app)
    with db.session(write=False) as session:
        row = session.scalars(
            select(OAuthAuthorizationCode).where(OAuthAuthorizationCode.app_id == web_app.id)
        ).one()
    assert row.expires_at - row.created == timedelta(seconds=settings.authorization_code_lifetime)
    assert settings.authorization_code_lifetime <= 60


def test_unknown_code(web_app: App, client: httpx.Client) -> None:
    _assert_error(exchange(client, web_app, "not-a-code"), "invalid_grant")


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_client_authentication_failures(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    code = browser.code(web_app)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": web_app.redirect_uri}
    secret = web_app.client_secret or ""
    wrong = client.post(TOKEN, data=form, headers=_basic(web_app.client_id, secret + "x"))
    _assert_error(wrong, "invalid_client", 401)
    assert wrong.headers["www-authenticate"].startswith("Basic ")  # RFC 6749 §5.2
    no_secret = client.post(TOKEN, data={**form, "client_id": web_app.client_id})
    _assert_error(no_secret, "invalid_client", 401)  # confidential apps must authenticate
    wrong_post = client.post(
        TOKEN, data={**form, "client_id": web_app.client_id, "client_secret": "nope"}
    )
    _assert_error(wrong_post, "invalid_client", 401)
    unknown = client.post(TOKEN, data=form, headers=_basic("nobody", "x"))
    _assert_error(unknown, "invalid_client", 401)
    two_methods = client.post(
        TOKEN, data={**form, "client_secret": secret}, headers=_basic(web_app.client_id, secret)
    )
    _assert_error(two_methods, "invalid_request")  # RFC 6749 §2.3: one method only
    mismatch = client.post(
        TOKEN, data={**form, "client_id": "someone-else"}, headers=_basic(web_app.client_id, secret)
    )
    _assert_error(mismatch, "invalid_request")  # RFC 6749 §2.3 (test_rfc6749_client_auth)
    # None of the failures used the code up.
    assert exchange(client, web_app, code).status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
    ],
    ids=["no-grant-type", "password", "client-credentials", "implicit", "no-code"],
)
def test_bad_token_requests(
    web_app: App, client: httpx.Client, form: dict[str, str], error: str
) -> None:
    _assert_error(token_request(client, web_app, form), error)


def test_repeated_parameter(browser: Browser, web_app: App, client: httpx.Client) -> None:
    code = browser.code(web_app)
    body = (
        f"grant_type=authorization_code&code={code}&code={code}"
        f"&redirect_uri={httpx.URL(web_app.redirect_uri)}"
    )
    answer = client.post(
        TOKEN,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=web_app.auth,
    )
    _assert_error(answer, "invalid_request")  # RFC 6749 §3.2


def test_json_body_is_refused(web_app: App, client: httpx.Client) -> None:
    answer = client.post(TOKEN, json={"grant_type": "authorization_code"}, auth=web_app.auth)
    _assert_error(answer, "invalid_request")


def test_parameters_in_query_are_not_read(
    browser: Browser, web_app: App, client: httpx.Client
) -> None:
    code = browser.code(web_app)
    answer = client.post(
        TOKEN,
        params={"grant_type": "authorization_code", "code": code},
        data={"redirect_uri": web_app.redirect_uri},
        auth=web_app.auth,
    )
    _assert_error(answer, "unsupported_grant_type")  # RFC 6749 §3.2: body only


def test_get_is_not_allowed(client: httpx.Client) -> None:
    assert client.get(TOKEN).status_code == 405


@pytest.mark.parametrize(
    ("value", "ok"), [("match", True), ("0" * 32, False)], ids=["match", "other"]
)
def test_service_parameter(
    browser: Browser, web_app: App, client: httpx.Client, value: str, ok: bool
) -> None:
    code = browser.code(web_app)
    service = web_app.service_id if value == "match" else value
    answer = exchange(client, web_app, code, service=service)  # C42 compat
    if ok:
        assert answer.status_code == 200, answer.text
    else:
        _assert_error(answer, "invalid_request")


def test_inactive_user_gets_no_token(
    fresh_browser: object, web_app: App, client: httpx.Client, db: Database
) -> None:
    from c42.models import User

    b = fresh_browser()  # type: ignore[operator]
    code = b.code(web_app)
    with db.session() as session:
        session.execute(update(User).where(User.id == b.person.id).values(is_active=False))
    _assert_error(exchange(client, web_app, code), "invalid_grant")
