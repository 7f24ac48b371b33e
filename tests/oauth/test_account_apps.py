"""/account/apps/: the apps a user authorised (from consent records), and revoking them."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.oauth.helpers import App, Browser, bearer, csrf_of, exchange, refresh


def test_login_required(anonymous: Browser) -> None:
    answer = anonymous.http.get("/account/apps/")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/accounts/login/?next=%2Faccount%2Fapps%2F"


def test_lists_authorised_apps_and_revokes_one(
    fresh_browser: Callable[[], Browser], web_app: App, native_app: App, client: httpx.Client
) -> None:
    b = fresh_browser()
    empty = b.http.get("/account/apps/")
    assert empty.status_code == 200 and 'id="no-apps"' in empty.text
    first = exchange(client, web_app, b.code(web_app, scope="service.read service.write")).json()
    kept = exchange(client, web_app, b.code(web_app)).json()
    from tests.oauth.helpers import pkce

    verifier, challenge = pkce()
    other = exchange(client, native_app, b.code(native_app, challenge=challenge), verifier).json()
    page = b.http.get("/account/apps/")
    assert page.status_code == 200
    assert f'id="app-{web_app.id}"' in page.text and f'id="app-{native_app.id}"' in page.text
    assert "OAuth Test Service" in page.text
    assert "Create, change, delete and share your calendars" in page.text
    for token in (first["access_token"], kept["access_token"], other["access_token"]):
        assert client.get("/api/v2/calendars/", headers=bearer(token)).status_code == 200

    # Without the CSRF token: refused, nothing changes.
    refused = b.http.post(f"/account/apps/{web_app.id}/revoke/", data={})
    assert refused.status_code == 403
    assert client.get("/api/v2/calendars/", headers=bearer(first["access_token"])).is_success

    answer = b.http.post(
        f"/account/apps/{web_app.id}/revoke/", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account/apps/?notice=revoked"
    # Every token of that app for this user stops at once; the other app is untouched.
    for token in (first["access_token"], kept["access_token"]):
        gone = client.get("/api/v2/calendars/", headers=bearer(token))
        assert gone.status_code == 401
    assert refresh(client, web_app, kept["refresh_token"]).json()["error"] == "invalid_grant"
    assert client.get("/api/v2/calendars/", headers=bearer(other["access_token"])).is_success
    after = b.http.get("/account/apps/?notice=revoked")
    assert f'id="app-{web_app.id}"' not in after.text
    assert f'id="app-{native_app.id}"' in after.text
    assert "disconnected" in after.text
    # The consent record is gone: the next authorization asks again.
    again = b.authorize({"response_type": "code", "client_id": web_app.client_id, "state": "s"})
    assert again.status_code == 200 and 'id="consent-form"' in again.text


def test_revoking_touches_only_the_callers_tokens(
    fresh_browser: Callable[[], Browser], web_app: App, client: httpx.Client
) -> None:
    alice, bob = fresh_browser(), fresh_browser()
    alice_token = exchange(client, web_app, alice.code(web_app)).json()["access_token"]
    bob.code(web_app)
    page = bob.http.get("/account/apps/")
    bob.http.post(f"/account/apps/{web_app.id}/revoke/", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/api/v2/calendars/", headers=bearer(alice_token)).status_code == 200


def test_unused_codes_die_with_the_consent(
    fresh_browser: Callable[[], Browser], web_app: App, client: httpx.Client
) -> None:
    b = fresh_browser()
    code = b.code(web_app)
    page = b.http.get("/account/apps/")
    b.http.post(f"/account/apps/{web_app.id}/revoke/", data={"csrf_token": csrf_of(page.text)})
    assert exchange(client, web_app, code).json()["error"] == "invalid_grant"
