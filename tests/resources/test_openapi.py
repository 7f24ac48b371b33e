"""The OpenAPI document and the interactive docs (SPEC §4)."""

from __future__ import annotations

import httpx

from tests.routes import API_PREFIX, api_routes


def test_openapi_lists_the_resource_endpoints(client: httpx.Client) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith(API_PREFIX)
        for method in operations
    }
    assert documented == set(api_routes())  # the app's routes (tests.routes), both ways


def test_openapi_documents_list_parameters(client: httpx.Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, expected in (
        ("/api/v2/events/", {"limit", "offset", "sync_token", "ids", "calendar_ids", "order_by"}),
        ("/api/v2/calendars/", {"limit", "offset", "sync_token", "ids", "service_ids"}),
        ("/api/v2/event-subscriptions/", {"limit", "offset", "sync_token", "event_ids"}),
        ("/api/v2/calendar-subscriptions/", {"limit", "offset", "sync_token", "calendar_ids"}),
    ):
        names = {p["name"] for p in paths[path]["get"].get("parameters", [])}
        assert expected <= names, (path, expected - names)


def test_openapi_documents_request_bodies(client: httpx.Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v2/events/", "post"),
        ("/api/v2/calendars/", "post"),
        ("/api/v2/event-subscriptions/", "post"),
        ("/api/v2/calendar-subscriptions/", "post"),
        ("/api/v2/user-tokens/", "post"),
    ):
        body = paths[path][method]["requestBody"]["content"]
        assert "application/json" in body, path


def test_docs_page_is_html(client: httpx.Client) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in response.text
