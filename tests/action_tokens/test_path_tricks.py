"""Path tricks against the live server (SPEC §5.2: matching is on the routed endpoint and its
path parameters after normalisation, not on raw strings).

Requests go over a raw socket so that the request line reaches the server exactly as written
(httpx would resolve `..` segments before sending)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.action_tokens.helpers import (
    ESUB,
    EVENT,
    action,
    create_token,
    grant,
    raw_body,
    raw_request,
    raw_status,
)
from tests.conftest import LiveServer
from tests.factories import Factory, Person, event


class Pinned:
    def __init__(self, client: httpx.Client, factory: Factory) -> None:
        self.ann: Person = factory.user()
        self.a = event(client, self.ann, title="Pinned event")["id"]
        self.b = event(client, self.ann, title="Secret event")["id"]
        self.token = create_token(client, self.ann, [grant("GET", EVENT, id=self.a)])["token"]


@pytest.fixture
def pinned(client: httpx.Client, factory: Factory) -> Pinned:
    return Pinned(client, factory)


def _encoded(value: str) -> str:
    return "".join(f"%{ord(c):02x}" for c in value)


# (id, method, request target built from the pinned id A and the other id B, expected status)
ALLOWED = [
    ("canonical", "GET", "/api/v2/events/{A}/"),
    ("no-trailing-slash", "GET", "/api/v2/events/{A}"),
    ("percent-encoded-id", "GET", "/api/v2/events/{encA}/"),
    ("query-cannot-change-path-param", "GET", "/api/v2/events/{A}/?id={B}"),
]
REFUSED = [
    ("other-id", "GET", "/api/v2/events/{B}/", 403),
    ("other-id-no-slash", "GET", "/api/v2/events/{B}", 403),
    ("other-id-percent-encoded", "GET", "/api/v2/events/{encB}/", 403),
    ("absolute-form-other-id", "GET", "http://127.0.0.1/api/v2/events/{B}/", 403),
    ("nul-suffix", "GET", "/api/v2/events/{A}%00/", 403),
    ("dot-dot", "GET", "/api/v2/events/{A}/../{B}/", 404),
    ("dot-dot-encoded-slash", "GET", "/api/v2/events/{A}/..%2f{B}/", 404),
    ("encoded-slashes", "GET", "/api/v2/events/{A}%2F..%2F{B}/", 404),
    ("encoded-dots", "GET", "/api/v2/events/%2e%2e/events/{B}/", 404),
    ("encoded-dots-after-pinned", "GET", "/api/v2/events/{A}/%2e%2e/{B}", 404),
    ("single-dot", "GET", "/api/v2/./events/{B}/", 404),
    ("double-slash-before-id", "GET", "/api/v2/events//{B}/", 404),
    ("double-slash-leading", "GET", "//api/v2/events/{B}/", 404),
    ("double-slash-inside", "GET", "/api/v2//events/{B}/", 404),
    ("extra-trailing-slash", "GET", "/api/v2/events/{A}//", 404),
    ("uppercase-prefix", "GET", "/API/v2/events/{B}/", 404),
    ("head-is-not-served", "HEAD", "/api/v2/events/{A}/", 405),
    ("head-other-id", "HEAD", "/api/v2/events/{B}/", 405),
    ("options", "OPTIONS", "/api/v2/events/{A}/", 405),
    ("options-other-id", "OPTIONS", "/api/v2/events/{B}/", 405),
    ("lowercase-method", "get", "/api/v2/events/{B}/", 400),
    ("mixed-case-method", "Get", "/api/v2/events/{A}/", 400),
]


def _target(template: str, pinned: Pinned) -> str:
    return template.format(A=pinned.a, B=pinned.b, encA=_encoded(pinned.a), encB=_encoded(pinned.b))


@pytest.mark.parametrize(("method", "template"), [c[1:] for c in ALLOWED],
                         ids=[c[0] for c in ALLOWED])  # fmt: skip
def test_the_pinned_event_is_reachable(
    server: LiveServer, pinned: Pinned, method: str, template: str
) -> None:
    response = raw_request(server.url, method, _target(template, pinned), action(pinned.token))
    assert raw_status(response) == 200, response[:300]
    assert orjson.loads(raw_body(response))["data"][0]["id"] == pinned.a


@pytest.mark.parametrize(("method", "template", "status"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])  # fmt: skip
def test_tricks_never_reach_another_object(
    server: LiveServer, pinned: Pinned, method: str, template: str, status: int
) -> None:
    response = raw_request(server.url, method, _target(template, pinned), action(pinned.token))
    assert raw_status(response) == status, response[:300]
    body = raw_body(response)
    assert pinned.b.encode() not in body and b"Secret event" not in body
    expected_code = {403: "endpoint_not_allowed", 404: "not_found", 405: "method_not_allowed"}
    if status in expected_code and method != "HEAD":  # HEAD answers carry no body
        assert orjson.loads(body)["error"]["code"] == expected_code[status]


def test_httpx_resolves_dot_segments_before_sending(client: httpx.Client, pinned: Pinned) -> None:
    """What a normalising client sends for `A/../B` is simply B's path: refused as B."""
    response = client.get(f"/api/v2/events/{pinned.a}/../{pinned.b}/", headers=action(pinned.token))
    assert str(response.request.url).endswith(f"/api/v2/events/{pinned.b}/")
    assert response.status_code == 403
    # httpx keeps an encoded slash as it is; the server decodes it and finds no route.
    encoded = client.get(f"/api/v2/events/{pinned.a}%2F..%2F{pinned.b}/",
                         headers=action(pinned.token))  # fmt: skip
    assert "%2F" in encoded.request.url.raw_path.decode()
    assert encoded.status_code == 404


def test_subscription_token_cannot_answer_another_subscription(
    client: httpx.Client, factory: Factory, server: LiveServer
) -> None:
    owner, guest = factory.user(prefix="owner"), factory.user(prefix="guest")
    subscriptions = []
    for title in ("Party", "Other party"):
        ev = event(client, owner, title=title)
        invited = client.post(
            "/api/v2/event-subscriptions/",
            json={"event_id": ev["id"], "subscriber": {"user_id": guest.id}},
            headers=owner.headers,
        )
        assert invited.status_code == 201, invited.text
        subscriptions.append(invited.json()["data"][0]["id"])
    mine, other = subscriptions
    token = create_token(client, guest, [grant("PATCH", ESUB, id=mine)], max_uses=10)["token"]
    body = orjson.dumps({"rsvp_status": "attending"})
    attempts = [
        ("PATCH", f"/api/v2/event-subscriptions/{other}/", 403),
        ("PATCH", f"/api/v2/event-subscriptions/{mine}/../{other}/", 404),
        ("PATCH", f"/api/v2/event-subscriptions/{mine}%2F..%2F{other}/", 404),
        ("PUT", f"/api/v2/event-subscriptions/{mine}/", 403),
        ("DELETE", f"/api/v2/event-subscriptions/{mine}/", 403),
        ("patch", f"/api/v2/event-subscriptions/{mine}/", 400),
    ]
    for method, target, status in attempts:
        response = raw_request(server.url, method, target, action(token), body)
        assert raw_status(response) == status, (method, target, response[:300])
    # The guest's own User Token may answer both; nothing was changed by the tricks.
    for subscription_id in (mine, other):
        got = client.get(f"/api/v2/event-subscriptions/{subscription_id}/", headers=guest.headers)
        assert got.json()["data"][0]["rsvp_status"] == "not_replied"
    answered = raw_request(
        server.url, "PATCH", f"/api/v2/event-subscriptions/{mine}", action(token), body
    )
    assert raw_status(answered) == 200, answered[:300]
    assert orjson.loads(raw_body(answered))["data"][0]["rsvp_status"] == "attending"
