"""CORS on the resource API (issue 17, SPEC §5.3): preflights and actual responses for the
origins registered by public apps, exactly that origin, never `*`, never with credentials;
which token a web page of another origin may present; origins validated and normalised once."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from c42.auth.oauth import apps
from c42.auth.oauth.origins import InvalidOrigin, normal_origin
from c42.db import Database
from c42.errors import InvalidRequest
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import App, Browser, access_token, bearer, exchange, make_app

ALL_API_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _origin() -> str:
    return f"https://spa-{secrets.token_hex(4)}.example"


def _js_app(db: Database, settings: Settings, service_id: str, origin: str) -> App:
    return make_app(
        db,
        settings,
        service_id,
        public=True,
        redirect_uris=[f"{origin}/callback"],
        cors_origins=[origin],
    )


def _preflight(client: httpx.Client, path: str, origin: str, method: str = "GET") -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin.encode(),  # bytes: a malformed origin may not be ASCII
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.fixture
def origin(db: Database, settings: Settings, service_id: str) -> str:
    registered = _origin()
    _js_app(db, settings, service_id, registered)
    return registered


def _eventually_allowed(client: httpx.Client, origin: str) -> httpx.Response:
    """The registered set is cached for at most the credential cache time (1 s)."""
    deadline = time.monotonic() + 5
    while True:
        answer = _preflight(client, "/api/v2/events/", origin)
        if "access-control-allow-origin" in answer.headers or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v2/events/", "GET"),
        ("/api/v2/events", "POST"),  # without the trailing slash, as every API path
        ("/api/v2/calendars/0123456789abcdef0123456789abcdef/", "PATCH"),
        ("/api/v2/event-subscriptions/x/", "DELETE"),
        ("/api/v2/no-such-resource/", "GET"),
    ],
)
def test_preflight_for_a_registered_origin(
    client: httpx.Client, origin: str, path: str, method: str
) -> None:
    _eventually_allowed(client, origin)
    answer = _preflight(client, path, origin, method)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin
    methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert methods == ALL_API_METHODS
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in answer.headers
    assert "origin" in answer.headers["vary"].lower()


@pytest.mark.parametrize(
    "other",
    [
        "https://evil.example",
        "null",
        "https://spa.example.evil.example",
        "https://*.example",
        "https://spa.example/path",
        "https://spa.example:\uff18\uff10",  # non-ASCII digits are no port
        "https://user@spa.example",
    ],
)
def test_preflight_for_other_or_malformed_origins(
    client: httpx.Client, origin: str, other: str
) -> None:
    _eventually_allowed(client, origin)
    answer = _preflight(client, "/api/v2/events/", other.replace("spa.example", origin[8:]))
    assert answer.status_code == 204
    assert not [h for h in answer.headers if h.startswith("access-control-")]


def test_plain_http_origin_is_never_answered(client: httpx.Client, origin: str) -> None:
    """The registered origin is https: the same host over http is another origin."""
    _eventually_allowed(client, origin)
    answer = _preflight(client, "/api/v2/events/", origin.replace("https://", "http://"))
    assert "access-control-allow-origin" not in answer.headers


def test_actual_responses_readable_by_the_apps_origin(
    client: httpx.Client,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
) -> None:
    registered = _origin()
    app = _js_app(db, settings, service_id, registered)
    token = access_token(client, browser, app, "service.read service.write")
    _eventually_allowed(client, registered)
    headers = {"Origin": registered, **bearer(token)}

    listed = client.get("/api/v2/events/", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.headers["access-control-allow-origin"] == registered
    exposed = {
        h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")
    }
    assert {"www-authenticate", "retry-after"} <= exposed
    assert "access-control-allow-credentials" not in listed.headers
    assert "origin" in listed.headers["vary"].lower()

    created = client.post("/api/v2/calendars/", json={"name": "CORS"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == registered

    # Errors are readable too: a 401 with its challenge, a 400, a 415 from the body checks.
    refused = client.get("/api/v2/events/", headers={**headers, "Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == registered
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    invalid = client.get("/api/v2/events/?limit=1000", headers=headers)
    assert invalid.status_code == 400
    assert invalid.headers["access-control-allow-origin"] == registered
    wrong_type = client.post(
        "/api/v2/calendars/", content=b"name=x", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.headers["access-control-allow-origin"] == registered


def test_no_cors_headers_for_an_unregistered_origin(client: httpx.Client, person: Person) -> None:
    answer = client.get(
        "/api/v2/events/", headers={"Origin": "https://evil.example", **person.headers}
    )
    assert not [h for h in answer.headers if h.startswith("access-control-")]
    assert "origin" in answer.headers["vary"].lower()


def test_server_tokens_are_never_honoured_from_a_web_page(
    client: httpx.Client, origin: str, person: Person, db: Database, settings: Settings
) -> None:
    """SPEC §1: User and Action Tokens are server tokens; a page of another origin that
    presents one gets a 401, readable by a registered origin so its developer sees why."""
    _eventually_allowed(client, origin)
    for foreign in (origin, "https://evil.example", "null"):
        answer = client.get("/api/v2/events/", headers={"Origin": foreign, **person.headers})
        assert answer.status_code == 401, (foreign, answer.text)
        assert answer.json()["error"]["code"] == "invalid_token"
        assert "server tokens" in answer.json()["error"]["message"]
    grant = {"method": "GET", "route": "/api/v2/events/"}
    created = client.post(
        "/api/v2/action-tokens/", json={"grants": [grant], "name": "cors"}, headers=person.headers
    )
    assert created.status_code == 201, created.text
    action = {"Authorization": f"ActionToken {created.json()['data'][0]['token']}"}
    assert client.get("/api/v2/events/", headers=action).status_code == 200
    refused = client.get("/api/v2/events/", headers={"Origin": origin, **action})
    assert refused.status_code == 401


def test_server_tokens_from_our_own_pages_and_servers(
    client: httpx.Client, server: LiveServer, settings: Settings, person: Person
) -> None:
    """No Origin (a server) or this server's own origin (e.g. the /api/docs page): as ever."""
    assert client.get("/api/v2/events/", headers=person.headers).status_code == 200
    own = client.get("/api/v2/events/", headers={"Origin": server.url, **person.headers})
    assert own.status_code == 200, own.text
    issuer = client.get("/api/v2/events/", headers={"Origin": settings.issuer, **person.headers})
    assert issuer.status_code == 200, issuer.text


def test_a_token_works_only_from_its_own_apps_origins(
    client: httpx.Client,
    browser: Browser,
    db: Database,
    settings: Settings,
    service_id: str,
    web_app: App,
) -> None:
    mine, theirs = _origin(), _origin()
    app = _js_app(db, settings, service_id, mine)
    _js_app(db, settings, service_id, theirs)
    token = bearer(access_token(client, browser, app, "service.read"))
    assert client.get("/api/v2/events/", headers=token).status_code == 200  # a server
    assert client.get("/api/v2/events/", headers={"Origin": mine, **token}).status_code == 200
    other = client.get("/api/v2/events/", headers={"Origin": theirs, **token})
    assert other.status_code == 401, other.text
    assert other.json()["error"]["code"] == "invalid_token"
    # A confidential app registers no origin: its tokens never work from a web page.
    code = browser.code(web_app)
    answer = exchange(client, web_app, code)
    confidential = bearer(answer.json())
    assert client.get("/api/v2/events/", headers=confidential).status_code == 200
    refused = client.get("/api/v2/events/", headers={"Origin": mine, **confidential})
    assert refused.status_code == 401


def test_a_new_origin_is_answered_within_the_cache_time(
    client: httpx.Client, db: Database, settings: Settings, service_id: str
) -> None:
    fresh = _origin()
    before = _preflight(client, "/api/v2/events/", fresh)
    assert "access-control-allow-origin" not in before.headers
    _js_app(db, settings, service_id, fresh)
    started = time.monotonic()
    after = _eventually_allowed(client, fresh)
    assert after.headers.get("access-control-allow-origin") == fresh
    assert time.monotonic() - started < 1 + settings.token_cache_seconds + 1


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://App.Example", "https://app.example"),
        ("https://app.example:443", "https://app.example"),
        ("https://app.example/", "https://app.example"),
        ("https://app.example:8443", "https://app.example:8443"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_kept_in_the_form_browsers_send(given: str, kept: str) -> None:
    assert normal_origin(given) == kept


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "*",
        "null",
        "https://*.app.example",
        "app.example",
        "ftp://app.example",
        "http://app.example",  # plain http only on loopback
        "https://app.example/path",
        "https://app.example?x=1",
        "https://app.example#x",
        "https://user@app.example",
        "https://app.example:0",
        "https://app.example:65536",
        "https://app.example:\uff18\uff10",
        "https://app.example.",
        "https://app example",
        "https://app.example\n",
        "https://[::1",
    ],
)
def test_invalid_origins_are_refused_at_registration(
    bad: str, db: Database, settings: Settings, service_id: str
) -> None:
    with pytest.raises(InvalidOrigin):
        normal_origin(bad)
    with pytest.raises(InvalidRequest):
        make_app(db, settings, service_id, public=True, cors_origins=[bad])


def test_origins_are_stored_normalised(
    db: Database, settings: Settings, service_id: str, factory: Factory
) -> None:
    app = make_app(
        db,
        settings,
        service_id,
        public=True,
        cors_origins=["https://Spa.Example:443/", "https://spa.example"],
    )
    with db.unit_of_work() as work:
        row = apps.find(work, app.client_id)
    assert row is not None
    assert row.cors_origins == ["https://spa.example"]
