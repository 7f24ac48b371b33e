"""GET /metrics (SPEC §7): the Prometheus text format, read back with prometheus_client's own
parser; requests by route template, method and status (counter and histogram), authentication
outcomes, token issuance, rate-limit refusals, database pool use, process figures; no label
holds a user id, e-mail, token or raw path; served to loopback, elsewhere only with the token.

These run against one process (the shared test server); tests/ops/test_serve_workers.py runs
`c42 serve --workers 2` and checks the figures add up across processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, calendar
from tests.oauth.helpers import exchange, make_app, new_browser, person_with_password, refresh
from tests.ops.helpers import Labels, Scrape, eventually, scrape, served

REQUESTS = "c42_http_requests_total"
DURATION = "c42_http_request_duration_seconds"
AUTH = "c42_auth_outcomes_total"
ISSUED = "c42_oauth_tokens_issued_total"
REFUSED = "c42_rate_limit_refusals_total"
EVENTS = "/api/v2/events/"
METRICS_TOKEN = "metrics-token-" + "m" * 24


Key = tuple[str, Labels]


def _grows_by(client: httpx.Client, before: Scrape, expected: dict[Key, float]) -> Scrape:
    """The next scrape, once each listed sample has grown by exactly its amount (requests are
    counted after their response has been sent)."""
    latest = before

    def grown() -> bool:
        nonlocal latest
        latest = scrape(client)
        return all(
            latest.samples.get(key, 0.0) - before.samples.get(key, 0.0) >= amount
            for key, amount in expected.items()
        )

    eventually(grown)
    for key, amount in expected.items():
        assert latest.samples.get(key, 0.0) - before.samples.get(key, 0.0) == amount, key
    return latest


def _key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.Client, factory: Factory
) -> None:
    person = factory.user()
    event_id = secrets.token_hex(16)
    stray = "/no-such-page/" + secrets.token_hex(8)
    before = scrape(client)
    for path in (EVENTS, "/api/v2/events"):  # with and without the slash: one route
        assert client.get(path, headers=person.headers).status_code == 200
    assert client.get(EVENTS, headers=person.headers).status_code == 200
    assert client.get(f"{EVENTS}{event_id}/", headers=person.headers).status_code == 404
    assert client.request("PROPFIND", EVENTS, headers=person.headers).status_code == 405
    assert client.get(stray).status_code == 404
    after = _grows_by(
        client,
        before,
        {
            _key(REQUESTS, route=EVENTS, method="GET", status="200"): 3,
            _key(REQUESTS, route="/api/v2/events/{id}/", method="GET", status="404"): 1,
            _key(REQUESTS, route=EVENTS, method="OTHER", status="405"): 1,
            _key(REQUESTS, route="unrouted", method="GET", status="404"): 1,
            _key(f"{DURATION}_count", route=EVENTS, method="GET"): 3,
        },
    )
    assert after.types["c42_http_requests"] == "counter"
    assert after.types[DURATION] == "histogram"
    bucket = after.value(f"{DURATION}_bucket", route=EVENTS, method="GET", le="+Inf")
    assert bucket == after.value(f"{DURATION}_count", route=EVENTS, method="GET")
    assert after.value(f"{DURATION}_sum", route=EVENTS, method="GET") > 0
    for secret in (person.id, person.email, person.token, event_id, stray, "PROPFIND"):
        assert secret not in after.text


def test_probes_and_scrapes_are_not_counted(client: httpx.Client) -> None:
    for path in ("/health", "/health/live", "/health/ready", "/metrics"):
        assert client.get(path).status_code == 200
    routes = scrape(client).label_values("route")
    assert not routes & {"/health", "/health/live", "/health/ready", "/metrics"}


def test_authentication_outcomes_by_credential_kind_and_reason(
    client: httpx.Client, factory: Factory
) -> None:
    person = factory.user()
    inactive = factory.user(active=False)
    unknown = secrets.token_hex(20)
    before = scrape(client)
    sent = [
        ({"Authorization": f"Token {person.token}"}, 200),
        ({"Authorization": f"token  {person.token}"}, 200),
        ({"Authorization": f"Token {unknown}"}, 401),
        ({"Authorization": f"Token {inactive.token}"}, 401),
        ({"Authorization": f"ActionToken {unknown}"}, 401),
        ({"Authorization": "Bearer " + secrets.token_urlsafe(32)}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({}, 401),
    ]
    for headers, status in sent:
        assert client.get(EVENTS, headers=headers).status_code == status
    after = _grows_by(
        client,
        before,
        {
            _key(AUTH, kind="Token", reason="ok"): 2,
            _key(AUTH, kind="Token", reason="invalid_token"): 1,
            _key(AUTH, kind="Token", reason="inactive_user"): 1,
            _key(AUTH, kind="ActionToken", reason="invalid_token"): 1,
            _key(AUTH, kind="Bearer", reason="invalid_token"): 1,
            _key(AUTH, kind="unknown", reason="invalid_token"): 1,
            _key(AUTH, kind="none", reason="not_authenticated"): 1,
        },
    )
    for secret in (person.token, inactive.token, unknown, person.id):
        assert secret not in after.text


def test_token_issuance_by_grant_type(
    server: LiveServer, client: httpx.Client, db: Database, settings: Settings, factory: Factory
) -> None:
    app = make_app(db, settings, factory.service("Metrics"))
    person = person_with_password(factory)
    before = scrape(client)
    browser = new_browser(server.url)
    browser.login(person)
    issued = exchange(client, app, browser.code(app))
    assert issued.status_code == 200, issued.text
    assert refresh(client, app, issued.json()["refresh_token"]).status_code == 200
    assert refresh(client, app, "not-a-refresh-token").status_code == 400  # issues nothing
    after = _grows_by(
        client,
        before,
        {
            _key(ISSUED, grant_type="authorization_code"): 1,
            _key(ISSUED, grant_type="refresh_token"): 1,
        },
    )
    assert app.client_id not in after.text


def test_rate_limit_refusals_by_limiter(
    client: httpx.Client, settings: Settings, db: Database
) -> None:
    before = scrape(client)
    small = settings.model_copy(update={"rate_limit_token": "1/60"})
    with served(small, db) as limited, httpx.Client(base_url=limited.url) as other:
        form = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "nobody"}
        assert other.post("/oauth2/token/", data=form).status_code != 429
        assert other.post("/oauth2/token/", data=form).status_code == 429
    # The metrics are the process's: the shared server shows the other app's refusal too.
    _grows_by(client, before, {_key(REFUSED, limiter="token"): 1})


def test_database_pool_use(client: httpx.Client, factory: Factory) -> None:
    person = factory.user()
    for _ in range(3):
        calendar(client, person)  # writes: pooled connections on both databases
        assert client.get(EVENTS, headers=person.headers).status_code == 200
    assert scrape(client).value("c42_db_pool_capacity") >= 1
    # Every connection lent for those requests went back (none is held between requests).
    eventually(lambda: scrape(client).value("c42_db_pool_connections_in_use") == 0)


def test_process_figures(client: httpx.Client) -> None:
    figures = scrape(client)
    assert figures.value("process_resident_memory_bytes") > 0
    assert figures.value("process_cpu_seconds_total") > 0


def test_loopback_clients_need_no_token(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


def test_without_a_metrics_token_others_get_the_unknown_page_404(client: httpx.Client) -> None:
    unknown = client.get("/no-such-page")
    # A loopback peer forwarding for someone else is a reverse proxy, not a local scraper.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        response = client.get("/metrics", headers={header: "203.0.113.7"})
        assert response.status_code == 404, header
        assert response.json() == unknown.json()
        assert "c42_http" not in response.text


@pytest.fixture(scope="module")
def behind_proxy(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """The app with C42_METRICS_TOKEN set, behind a trusted proxy on loopback (uvicorn's proxy
    headers, as `c42 serve --proxy-headers`): X-Forwarded-For names the real client."""
    with_token = settings.model_copy(update={"metrics_token": METRICS_TOKEN})
    with served(with_token, db, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as live:
        yield live


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-" + "w" * 24,
        "Bearer " + METRICS_TOKEN[:-1],
        "Bearer " + METRICS_TOKEN + "x",
        "Token " + METRICS_TOKEN,
        METRICS_TOKEN,
    ],
    ids=["none", "wrong", "prefix", "longer", "other-scheme", "no-scheme"],
)
def test_remote_clients_without_the_token_are_refused(
    behind_proxy: LiveServer, authorization: str | None
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.7"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = httpx.get(behind_proxy.url + "/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="c42-metrics"'
    assert response.json()["error"]["code"] == "invalid_token"
    assert "c42_http" not in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_remote_clients_with_the_token_get_the_metrics(
    behind_proxy: LiveServer, scheme: str
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.7", "Authorization": f"{scheme} {METRICS_TOKEN}"}
    response = httpx.get(behind_proxy.url + "/metrics", headers=headers)
    assert response.status_code == 200
    assert "c42_http_requests_total" in response.text
