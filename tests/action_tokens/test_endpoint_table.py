"""The grantable endpoints are the app's real /api/v2/ routes, found through nested included
routers, with the template that enforcement sees at request time (scope["route"].path)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, FastAPI, Request

from c42.resources.tokens.endpoint_table import EndpointTable, for_app
from tests.conftest import LiveServer

_HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def test_table_of_the_real_app_matches_its_openapi_document(
    server: LiveServer, client: httpx.Client
) -> None:
    document = client.get("/api/openapi.json").json()
    expected = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v2/")
        and not path.startswith(("/api/v2/user-tokens/", "/api/v2/action-tokens/"))
        for method in operations
        if method in _HTTP_METHODS
    }
    table = for_app(server.app)
    found = {(m, e.route) for e in table.endpoints.values() for m in e.methods}
    assert found == expected
    assert ("PATCH", "/api/v2/event-subscriptions/{id}/") in found
    assert ("GET", "/api/v2/events/{id}/") in found
    assert table.endpoints["/api/v2/events/{id}/"].params == {"id"}
    assert not any("token" in route for _, route in found)


def _nested_app(seen: list[str]) -> FastAPI:
    async def record(request: Request) -> dict[str, str]:
        seen.append(request.scope["route"].path)
        return {}

    things = APIRouter(prefix="/api/v2/things")
    things.add_api_route("/{id}/", record, methods=["GET", "PATCH"])
    things.add_api_route("/{id}/parts/{part}/", record, methods=["DELETE"])
    middle = APIRouter()
    middle.include_router(things)  # a router inside a router, no extra prefix
    prefixed = APIRouter(prefix="/inner")
    prefixed.add_api_route("/{id}/", record, methods=["GET"])
    outer = APIRouter(prefix="/api/v2/outer")
    outer.include_router(prefixed)  # served as /api/v2/outer/inner/{id}/
    app = FastAPI()
    app.include_router(middle)
    app.include_router(outer)
    app.add_api_route("/api/v2/top/", record, methods=["POST"])
    app.add_api_route("/api/v2/user-tokens/", record, methods=["GET"])
    app.add_api_route("/other/", record, methods=["GET"])
    return app


def test_nested_routers_are_walked() -> None:
    seen: list[str] = []
    app = _nested_app(seen)
    table = EndpointTable.from_routes(app.router.routes)
    assert {path: set(e.methods) for path, e in table.endpoints.items()} == {
        "/api/v2/things/{id}/": {"GET", "PATCH"},
        "/api/v2/things/{id}/parts/{part}/": {"DELETE"},
        "/api/v2/top/": {"POST"},
    }
    assert table.endpoints["/api/v2/things/{id}/parts/{part}/"].params == {"id", "part"}

    async def call() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return [
                (await http.get("/api/v2/things/1/")).status_code,
                (await http.delete("/api/v2/things/1/parts/2/")).status_code,
                (await http.post("/api/v2/top/")).status_code,
                (await http.get("/api/v2/outer/inner/1/")).status_code,
            ]

    assert asyncio.run(call()) == [200, 200, 200, 200]
    # What enforcement sees for each grantable route is exactly the table's template; the
    # route whose served path differs from its own template is left out of the table.
    assert seen[:3] == ["/api/v2/things/{id}/", "/api/v2/things/{id}/parts/{part}/", "/api/v2/top/"]
    assert seen[3] == "/inner/{id}/"
    assert "/api/v2/outer/inner/{id}/" not in table.endpoints


def test_openapi_document_shows_the_action_token_endpoints(client: httpx.Client) -> None:
    document = client.get("/api/openapi.json").json()
    assert set(document["paths"]["/api/v2/action-tokens/"]) >= {"get", "post"}
    assert set(document["paths"]["/api/v2/action-tokens/{id}/"]) >= {"get", "delete"}
    schemas = document["components"]["schemas"]
    request = schemas["ActionTokenRequest"]
    assert set(request["properties"]) == {
        "user_id",
        "service_id",
        "grants",
        "expires_in",
        "max_uses",
        "name",
    }
    assert request.get("additionalProperties") is False
    assert set(schemas["GrantSpec"]["properties"]) == {"method", "route", "params"}
