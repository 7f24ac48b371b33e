"""CORS for single-page relying parties (issue 15 follow-up, SPEC §5.3, §10): the discovery
documents and the JWKS are readable by any page (`*`, GET, no credentials); UserInfo follows
the API's rule — preflights for registered origins of public apps, the actual answer readable
only by an origin of the token's own app."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oauth.helpers import App, Browser, access_token, make_app

PUBLIC = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/oauth2/jwks/",
]
USERINFO = "/oauth2/userinfo/"


def _origin() -> str:
    return f"https://rp-{secrets.token_hex(4)}.example"


def _spa(db: Database, settings: Settings, service_id: str, origin: str) -> App:
    return make_app(
        db,
        settings,
        service_id,
        public=True,
        redirect_uris=[f"{origin}/callback"],
        cors_origins=[origin],
    )


def _preflight(server: LiveServer, path: str, origin: str, method: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization",
    }
    return httpx.options(server.url + path, headers=headers)


def _eventually_allowed(server: LiveServer, origin: str, method: str) -> httpx.Response:
    """The registered set is cached for at most the credential cache time."""
    deadline = time.monotonic() + 5
    while True:
        answer = _preflight(server, USERINFO, origin, method)
        if "access-control-allow-origin" in answer.headers or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.mark.parametrize("path", PUBLIC)
def test_public_documents_are_readable_by_any_origin(server: LiveServer, path: str) -> None:
    answer = httpx.get(server.url + path, headers={"Origin": _origin()})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    # Without Origin (a server), nothing changes.
    plain = httpx.get(server.url + path)
    assert "access-control-allow-origin" not in plain.headers


@pytest.mark.parametrize("path", PUBLIC)
def test_public_documents_preflight_allows_get_only(server: LiveServer, path: str) -> None:
    answer = _preflight(server, path, _origin(), "GET")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-methods"] == "GET"
    assert "access-control-allow-credentials" not in answer.headers
    assert "access-control-allow-headers" not in answer.headers  # no Authorization


def test_userinfo_preflight_for_a_registered_origin_only(
    server: LiveServer, db: Database, settings: Settings, service_id: str
) -> None:
    origin = _origin()
    _spa(db, settings, service_id, origin)
    for method in ("GET", "POST"):
        answer = _eventually_allowed(server, origin, method)
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == origin
        assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in answer.headers
    foreign = _preflight(server, USERINFO, _origin(), "GET")
    assert foreign.status_code == 204
    assert "access-control-allow-origin" not in foreign.headers


def test_userinfo_is_readable_only_by_an_origin_of_the_tokens_app(
    server: LiveServer, db: Database, settings: Settings, service_id: str, browser: Browser
) -> None:
    mine, theirs = _origin(), _origin()
    app = _spa(db, settings, service_id, mine)
    _spa(db, settings, service_id, theirs)  # registered, but by another app
    token = access_token(httpx.Client(base_url=server.url), browser, app, "openid profile")
    auth = {"Authorization": f"Bearer {token}"}

    answer = httpx.get(server.url + USERINFO, headers={**auth, "Origin": mine})
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"]
    assert answer.headers["access-control-allow-origin"] == mine
    assert "Origin" in answer.headers.get_list("vary")
    assert "access-control-allow-credentials" not in answer.headers

    posted = httpx.post(
        server.url + USERINFO, data={"access_token": token}, headers={"Origin": mine}
    )
    assert posted.status_code == 200, posted.text
    assert posted.headers["access-control-allow-origin"] == mine

    for other in (theirs, _origin(), "null"):
        refused = httpx.get(server.url + USERINFO, headers={**auth, "Origin": other})
        assert refused.status_code == 401, (other, refused.text)
        assert refused.json()["error"] == "invalid_token"
        assert "access-control-allow-origin" not in refused.headers

    # A server (no Origin) still reads it, without CORS headers.
    plain = httpx.get(server.url + USERINFO, headers=auth)
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers


def test_userinfo_of_a_confidential_apps_token_is_not_for_web_pages(
    server: LiveServer, web_app: App, browser: Browser
) -> None:
    token = access_token(httpx.Client(base_url=server.url), browser, web_app, "openid")
    answer = httpx.get(
        server.url + USERINFO, headers={"Authorization": f"Bearer {token}", "Origin": _origin()}
    )
    assert answer.status_code == 401
    assert "access-control-allow-origin" not in answer.headers
