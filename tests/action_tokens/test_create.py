"""POST /api/v2/action-tokens/: the secret once, with the warning; grants checked against the
app's real routes; every bad input a 400 that writes nothing (SPEC §4, §5.2)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from c42.resources.tokens.user_tokens import SERVER_TOKEN_WARNING
from tests.action_tokens.helpers import (
    BASE,
    ESUB,
    EVENT,
    EVENTS,
    action,
    create_token,
    error_code,
    grant,
)
from tests.factories import Factory, Person, event

HEX = uuid.uuid4().hex
_METADATA = {
    "id",
    "name",
    "user_id",
    "creator_id",
    "service_id",
    "grants",
    "created",
    "last_used",
    "expires_at",
    "max_uses",
    "use_count",
}


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_create_for_self_shows_the_secret_once_with_the_warning(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    response = client.post(
        BASE,
        json={
            "grants": [grant("GET", EVENT, id=ev["id"]), grant("PATCH", ESUB)],
            "expires_in": 604800,
            "max_uses": 5,
            "name": "rsvp link",
        },
        headers=ann.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["meta_data"]["count"] == 1 and isinstance(body["meta_data"]["sync_token"], int)
    created = body["data"][0]
    assert set(created) == _METADATA | {"token", "warning"}
    assert re.fullmatch(r"[0-9a-f]{40}", created["token"])
    assert created["warning"] == SERVER_TOKEN_WARNING
    assert created["user_id"] == created["creator_id"] == ann.id
    assert created["service_id"] is None
    assert created["max_uses"] == 5 and created["use_count"] == 0
    assert created["grants"] == [
        {"method": "GET", "route": EVENT, "params": {"id": ev["id"]}},
        {"method": "PATCH", "route": ESUB, "params": {}},
    ]
    lifetime = _parse(created["expires_at"]) - _parse(created["created"])
    assert lifetime == timedelta(seconds=604800)

    # Afterwards: metadata only, never the secret.
    listing = client.get(BASE, headers=ann.headers).json()
    assert [t["id"] for t in listing["data"]] == [created["id"]]
    one = client.get(f"{BASE}{created['id']}/", headers=ann.headers).json()["data"][0]
    for shown in (listing["data"][0], one):
        assert set(shown) == _METADATA
        assert created["token"] not in str(shown)

    used = client.get(f"/api/v2/events/{ev['id']}/", headers=action(created["token"]))
    assert used.status_code == 200, used.text
    assert used.json()["data"][0]["id"] == ev["id"]


def test_route_without_trailing_slash_is_stored_as_the_template(
    client: httpx.Client, factory: Factory
) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", "/api/v2/events/{id}")])
    assert created["grants"] == [{"method": "GET", "route": EVENT, "params": {}}]
    assert created["expires_at"] is None and created["max_uses"] is None


def test_duplicate_grants_are_kept_once(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    created = create_token(client, ann, [grant("GET", EVENTS), grant("GET", EVENTS)])
    assert created["grants"] == [{"method": "GET", "route": EVENTS, "params": {}}]


def test_bounds_are_inclusive(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    twenty = [grant("GET", EVENT, id=uuid.uuid4().hex) for _ in range(20)]
    assert len(create_token(client, ann, twenty, max_uses=1, expires_in=60)["grants"]) == 20
    create_token(client, ann, [grant("GET", EVENTS)], expires_in=365 * 24 * 3600)


BAD_GRANTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-route", grant("GET", "/api/v2/nothing/{id}/"), "grants.0.route"),
    ("literal-path-not-template", grant("GET", f"/api/v2/events/{HEX}/"), "grants.0.route"),
    ("renamed-param", grant("GET", "/api/v2/events/{event_id}/"), "grants.0.route"),
    ("health-not-api", grant("GET", "/health"), "grants.0.route"),
    ("openapi-not-api", grant("GET", "/api/openapi.json"), "grants.0.route"),
    ("oauth-token", grant("POST", "/oauth2/token/"), "grants.0.route"),
    ("account-page", grant("GET", "/accounts/login/"), "grants.0.route"),
    ("user-tokens-create", grant("POST", "/api/v2/user-tokens/"), "grants.0.route"),
    ("user-tokens-list", grant("GET", "/api/v2/user-tokens/"), "grants.0.route"),
    ("user-tokens-revoke", grant("DELETE", "/api/v2/user-tokens/{id}/"), "grants.0.route"),
    ("action-tokens-create", grant("POST", "/api/v2/action-tokens/"), "grants.0.route"),
    ("action-tokens-list", grant("GET", "/api/v2/action-tokens"), "grants.0.route"),
    ("action-tokens-read", grant("GET", "/api/v2/action-tokens/{id}/"), "grants.0.route"),
    ("action-tokens-revoke", grant("DELETE", "/api/v2/action-tokens/{id}/"), "grants.0.route"),
    ("unknown-method", grant("FETCH", EVENT), "grants.0.method"),
    ("lowercase-method", grant("get", EVENT), "grants.0.method"),
    ("head", grant("HEAD", EVENT), "grants.0.method"),
    ("options", grant("OPTIONS", EVENT), "grants.0.method"),
    ("post-on-item", grant("POST", EVENT), "grants.0.method"),
    ("delete-on-service", grant("DELETE", "/api/v2/services/{id}/"), "grants.0.method"),
    ("param-not-in-route", grant("GET", EVENT, event_id=HEX), "grants.0.params.event_id"),
    ("param-on-list", grant("GET", EVENTS, id=HEX), "grants.0.params.id"),
    ("param-short", grant("GET", EVENT, id="abc"), "grants.0.params.id"),
    ("param-uppercase", grant("GET", EVENT, id=HEX.upper()), "grants.0.params.id"),
    ("param-dots", grant("GET", EVENT, id="../" + HEX[:29]), "grants.0.params.id"),
    ("param-33-hex", grant("GET", EVENT, id=HEX + "a"), "grants.0.params.id"),
]


@pytest.mark.parametrize(("bad", "field"), [(g, f) for _, g, f in BAD_GRANTS],
                         ids=[i for i, _, _ in BAD_GRANTS])  # fmt: skip
def test_bad_grant_is_400_naming_the_field(
    client: httpx.Client, factory: Factory, bad: dict[str, Any], field: str
) -> None:
    ann = factory.user()
    response = client.post(BASE, json={"grants": [bad]}, headers=ann.headers)
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalid_request"
    assert field in response.json()["error"]["fields"]
    assert client.get(BASE, headers=ann.headers).json()["meta_data"]["count"] == 0


def test_second_bad_grant_is_named_by_its_index(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    bad = [grant("GET", EVENTS), grant("GET", "/api/v2/user-tokens/")]
    response = client.post(BASE, json={"grants": bad}, headers=ann.headers)
    assert response.status_code == 400
    assert "grants.1.route" in response.json()["error"]["fields"]


ok_grant = [grant("GET", EVENTS)]
BAD_BODIES: list[tuple[str, Any]] = [
    ("unknown-field", {"grants": ok_grant, "scope": "all"}),
    ("unknown-grant-field", {"grants": [{**ok_grant[0], "query": "x"}]}),
    ("no-grants", {"name": "x"}),
    ("empty-grants", {"grants": []}),
    ("grants-not-list", {"grants": ok_grant[0]}),
    ("21-grants", {"grants": [grant("GET", EVENT, id=uuid.uuid4().hex) for _ in range(21)]}),
    ("param-not-string", {"grants": [grant("GET", EVENT, id=7)]}),
    ("method-not-string", {"grants": [{"method": 1, "route": EVENTS}]}),
    ("expires-too-short", {"grants": ok_grant, "expires_in": 59}),
    ("expires-over-a-year", {"grants": ok_grant, "expires_in": 365 * 24 * 3600 + 1}),
    ("expires-as-text", {"grants": ok_grant, "expires_in": "3600"}),
    ("max-uses-zero", {"grants": ok_grant, "max_uses": 0}),
    ("max-uses-negative", {"grants": ok_grant, "max_uses": -1}),
    ("max-uses-bool", {"grants": ok_grant, "max_uses": True}),
    ("name-too-long", {"grants": ok_grant, "name": "x" * 201}),
    ("name-nul", {"grants": ok_grant, "name": "a\x00b"}),
    ("user-id-not-hex", {"grants": ok_grant, "user_id": "someone"}),
    ("service-id-not-hex", {"grants": ok_grant, "service_id": "../x"}),
    ("not-an-object", [ok_grant]),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_BODIES], ids=[i for i, _ in BAD_BODIES])
def test_bad_body_is_400_and_writes_nothing(
    client: httpx.Client, factory: Factory, body: Any
) -> None:
    ann = factory.user()
    response = client.post(BASE, json=body, headers=ann.headers)
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalid_request"
    assert client.get(BASE, headers=ann.headers).json()["meta_data"]["count"] == 0


def test_body_that_is_not_json(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    headers = {**ann.headers, "Content-Type": "application/json"}
    assert client.post(BASE, content=b"{grants", headers=headers).status_code == 400
    wrong_type = client.post(BASE, content=b"grants=x", headers={**ann.headers,
                             "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert wrong_type.status_code == 415
    assert client.get(BASE, headers=ann.headers).json()["meta_data"]["count"] == 0


def _manage_requests(token_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", BASE),
        ("GET", BASE),
        ("GET", f"{BASE}{token_id}/"),
        ("DELETE", f"{BASE}{token_id}/"),
        ("GET", "/api/v2/user-tokens/"),
        ("DELETE", f"/api/v2/user-tokens/{token_id}/"),
    ]


def test_action_tokens_never_manage_tokens(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    # A broad token: every grantable method on the events and subscriptions routes.
    broad = create_token(
        client,
        ann,
        [grant(m, EVENTS) for m in ("GET", "POST")]
        + [grant(m, EVENT) for m in ("GET", "PUT", "PATCH", "DELETE")]
        + [grant(m, ESUB) for m in ("GET", "PUT", "PATCH", "DELETE")],
    )
    for method, path in _manage_requests(broad["id"]):
        body = {"grants": ok_grant} if method == "POST" else None
        response = client.request(method, path, json=body, headers=action(broad["token"]))
        assert response.status_code == 403, (method, path, response.text)
        assert error_code(response) == "endpoint_not_allowed"
    listing = client.get(BASE, headers=ann.headers).json()
    assert listing["meta_data"]["count"] == 1  # nothing created, nothing revoked


def test_anonymous_requests_are_401(client: httpx.Client, factory: Factory) -> None:
    for method, path in _manage_requests(HEX):
        response = client.request(method, path, json={"grants": ok_grant})
        assert response.status_code == 401, (method, path)
        assert "ActionToken" in response.headers["www-authenticate"]


def _person_token_ids(client: httpx.Client, person: Person) -> set[str]:
    return {t["id"] for t in client.get(BASE, headers=person.headers).json()["data"]}


def test_pagination_of_the_list(client: httpx.Client, factory: Factory) -> None:
    ann = factory.user()
    made = [create_token(client, ann, ok_grant, name=f"t{i}")["id"] for i in range(3)]
    page = client.get(BASE, params={"limit": 2, "offset": 1}, headers=ann.headers).json()
    assert page["meta_data"]["count"] == 3 and page["meta_data"]["offset"] == 1
    assert len(page["data"]) == 2
    assert client.get(BASE, params={"limit": 0}, headers=ann.headers).json()["data"] == []
    assert client.get(BASE, params={"limit": 101}, headers=ann.headers).status_code == 400
    assert _person_token_ids(client, ann) == set(made)
