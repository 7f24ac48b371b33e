"""`/api/openapi.json` tells the truth about the API (SPEC §8) and `/api/docs` works offline.

What the document says of each operation is checked here; that the API answers only what it
says (status codes, content types, schemas) is the Schemathesis run of
tests/fuzz/test_api_openapi.py, against the live app with every kind of credential.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from c42.auth import scopes
from c42.settings import Settings
from tests.browser import chromium
from tests.conftest import LiveServer
from tests.factories import Factory
from tests.routes import api_routes

ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_security_schemes(document: dict[str, Any], settings: Settings) -> None:
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"Token", "ActionToken", "Bearer", "DPoP"}
    for name in ("Token", "ActionToken"):
        assert schemes[name] | {"description": ""} == {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "",
        }
        assert f"`{name} `" in schemes[name]["description"]
    flow = schemes["Bearer"]["flows"]["authorizationCode"]
    issuer = settings.issuer.rstrip("/")
    assert flow["authorizationUrl"] == f"{issuer}/oauth2/authorize/"
    assert flow["tokenUrl"] == flow["refreshUrl"] == f"{issuer}/oauth2/token/"
    assert set(flow["scopes"]) == scopes.service_scopes()  # the registry, not a copy
    assert "PKCE" in schemes["Bearer"]["description"]
    # RFC 9449 §7.1: the same OAuth tokens, bound to a key, with the DPoP scheme and a proof.
    assert schemes["DPoP"] | {"description": ""} == {
        "type": "http",
        "scheme": "DPoP",
        "description": "",
    }
    assert "`DPoP` header" in schemes["DPoP"]["description"]


def test_no_422_anywhere(document: dict[str, Any]) -> None:
    text = str(document)
    assert "'422'" not in text and "HTTPValidationError" not in text


def test_every_operation_is_described(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert {(m, p) for m, p, _ in operations} == set(api_routes())
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids))
    for method, path, operation in operations:
        where = f"{method} {path}"
        assert operation["summary"] and operation["description"], where
        assert "security" in operation, where
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert len(success) == 1, where
        if success != ["204"]:
            assert responses[success[0]]["content"]["application/json"]["schema"] == ENVELOPE_REF
        errors = {code for code in responses if code[0] in "45"}
        assert "400" in errors, where
        for code in errors:
            assert responses[code]["content"]["application/json"]["schema"] == ERROR_REF, where
        secured = bool(operation["security"])
        assert secured == ({"401", "403"} <= errors), where
        assert ("{id}" in path) <= ("404" in errors), where
        assert ("requestBody" in operation) == ({"413", "415"} <= errors), where


def _any(scope: str) -> list[dict[str, list[str]]]:
    return [{"Token": []}, {"ActionToken": []}, {"Bearer": [scope]}, {"DPoP": []}]


@pytest.mark.parametrize(
    ("method", "path", "security"),
    [
        ("GET", "/api/v2/events/", _any("service.read")),
        ("POST", "/api/v2/events/", _any("service.write")),
        ("DELETE", "/api/v2/calendars/{id}/", _any("service.write")),
        ("GET", "/api/v2/user-tokens/", [{"Token": []}]),
        ("POST", "/api/v2/action-tokens/", [{"Token": []}]),
        ("POST", "/api/v2/user-tokens/", []),
    ],
)
def test_security_of_operations(
    document: dict[str, Any], method: str, path: str, security: list[dict[str, list[str]]]
) -> None:
    operation = document["paths"][path][method.lower()]
    assert operation["security"] == security
    if not security:
        assert {"401", "429"} <= set(operation["responses"])  # wrong password; login limit


def test_docs_are_served_by_the_app(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        page = http.get("/api/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/api/") for source in sources), sources
        for source in sources:
            asset = http.get(source)
            assert asset.status_code == 200, source
        script = http.get("/api/docs/start.js").text
        assert '"/api/openapi.json"' in script and "usePkceWithAuthorizationCodeGrant" in script
        assert http.get("/api/docs/oauth2-redirect").status_code == 200
        refused = http.get("/api/docs/static/..%2Fcore.py")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
        assert http.get("/api/docs/static/redoc.standalone.js").status_code == 404


def test_authorize_with_a_token_in_swagger_ui(server: LiveServer, factory: Factory) -> None:
    """Offline (every request outside the app is refused), Swagger UI loads the document,
    takes a User Token in *Authorize* and sends it with *Try it out*."""
    person = factory.user()
    with chromium() as browser:
        page = browser.new_page()
        outside: list[str] = []

        def only_the_app(route: Any) -> None:
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_app)
        page.goto(f"{server.url}/api/docs")
        page.get_by_role("button", name="Authorize").first.click()
        token_form = page.locator(".auth-container").filter(has_text="Token (apiKey)").first
        token_form.locator("input").fill(f"Token {person.token}")
        token_form.locator("button.authorize").click()  # "Apply credentials"
        page.locator("button.btn-done").first.click()  # "Close"
        operation = page.locator("#operations-events-list_events")
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        with page.expect_response(lambda r: "/api/v2/events/" in r.url) as answered:
            operation.locator("button.execute").click()
        response = answered.value
        assert response.status == 200
        assert response.request.headers["authorization"] == f"Token {person.token}"
        assert outside == []
