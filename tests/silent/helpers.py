"""Helpers for the silent OAuth tests: apps registered through the project's own code, the
silent authorize request read off its redirect, the token exchange, the Bearer header."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from c42.auth.oauth import apps
from c42.db import Database
from c42.models import User
from c42.settings import Settings
from tests.oauth.helpers import bearer as bearer  # the one Bearer header helper

REDIRECT = "https://silent-client.example/callback"


@dataclass
class App:
    id: str
    client_id: str
    client_secret: str | None
    service_id: str
    redirect_uri: str

    @property
    def auth(self) -> tuple[str, str]:
        assert self.client_secret is not None
        return (self.client_id, self.client_secret)


def make_app(
    db: Database,
    settings: Settings,
    service_id: str,
    *,
    silent: bool = True,
    redirect_uri: str = REDIRECT,
    **options: Any,
) -> App:
    spec = apps.AppSpec(
        service_id, f"Silent {secrets.token_hex(3)}", [redirect_uri], silent=silent, **options
    )
    with db.session() as session:
        created = apps.create(session, settings.resolved_secret_key(), spec)
    return App(created.id, created.client_id, created.client_secret, service_id, redirect_uri)


def address(prefix: str = "someone") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 §4.1-§4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def params(app: App, email: str | None, **extra: str) -> dict[str, str]:
    values = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": "service.read service.write",
        "state": "st-" + secrets.token_hex(4),
    }
    if email is not None:
        values["email_address"] = email
    values.update(extra)
    return {name: value for name, value in values.items() if value is not None}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redirect_of(response: httpx.Response, app: App) -> dict[str, str]:
    """The query of a redirect to the app's redirect URI (asserting that is what it is)."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(app.redirect_uri + "?"), location
    return query_of(location)


def silent(client: httpx.Client, app: App, email: str | None, **extra: str) -> dict[str, str]:
    """Run the silent authorize request; the redirect's query (state checked)."""
    sent = params(app, email, **extra)
    query = redirect_of(client.get("/oauth2/authorize/", params=sent), app)
    assert query.get("state") == sent["state"], query
    return query


def exchange(client: httpx.Client, app: App, code: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    return client.post("/oauth2/token/", data={**form, **extra}, auth=app.auth)


def sandbox_token(client: httpx.Client, app: App, email: str, **extra: str) -> dict[str, Any]:
    """The token response of a complete silent flow for `email`."""
    query = silent(client, app, email, **extra)
    assert "code" in query, query
    response = exchange(client, app, query["code"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sandbox_users(db: Database, email: str) -> list[User]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(User).where(User.email == email, User.sandbox_service_id.is_not(None))
            )
        )


NORMAL_EVENT = {
    "event_type": "normal",
    "title": "Sandbox meeting",
    "start": "2027-03-01T09:00:00Z",
    "end": "2027-03-01T10:00:00Z",
    "start_timezone": "Europe/Amsterdam",
    "end_timezone": "Europe/Amsterdam",
}


def create(client: httpx.Client, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"][0]


def ids(client: httpx.Client, headers: dict[str, str], path: str, **query: Any) -> set[str]:
    response = client.get(path, headers=headers, params={"limit": 100, **query})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}
