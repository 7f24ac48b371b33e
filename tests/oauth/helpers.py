"""Helpers for the OAuth tests: apps registered through the project's own code, a cookie-keeping
"browser" that logs in through the real login form and answers the real consent form, PKCE."""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from c42.auth.oauth import apps
from c42.db import Database
from c42.settings import Settings
from tests.factories import Factory, Person

PASSWORD = "correct horse battery staple"
WEB_REDIRECT = "https://client.example/callback"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class App:
    id: str
    client_id: str
    client_secret: str | None
    service_id: str
    redirect_uris: list[str]

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.client_id, self.client_secret) if self.client_secret else None


def make_app(
    db: Database,
    settings: Settings,
    service_id: str,
    *,
    redirect_uris: list[str] | None = None,
    public: bool = False,
    name: str | None = None,
    **options: Any,
) -> App:
    uris = redirect_uris or ([LOOPBACK_REDIRECT] if public else [WEB_REDIRECT])
    name = name or f"App {secrets.token_hex(3)}"
    spec = apps.AppSpec(service_id, name, uris, public=public, **options)
    with db.session() as session:
        created = apps.create(session, settings.resolved_secret_key(), spec)
    return App(created.id, created.client_id, created.client_secret, service_id, uris)


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 §4.1-§4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token in page"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Browser:
    """A cookie-keeping client that never follows redirects, so each step is checked."""

    http: httpx.Client
    person: Person | None = None
    seen: list[httpx.Response] = field(default_factory=list)

    def login(self, person: Person) -> None:
        page = self.http.get("/accounts/login/")
        form = {"csrf_token": csrf_of(page.text), "email": person.email}
        form["password"] = person.password or PASSWORD
        answer = self.http.post("/accounts/login/", data=form)
        assert answer.status_code == 303, answer.text
        self.person = person

    def authorize(self, params: dict[str, str]) -> httpx.Response:
        return self.http.get("/oauth2/authorize/", params=params)

    def consent(self, page: httpx.Response, decision: str) -> httpx.Response:
        assert page.status_code == 200, page.text
        assert 'id="consent-form"' in page.text
        form = dict(_HIDDEN.findall(page.text))
        form = {name: html.unescape(value) for name, value in form.items()}
        form["decision"] = decision
        return self.http.post("/oauth2/authorize/", data=form)

    def code(
        self,
        app: App,
        *,
        scope: str | None = None,
        challenge: str | None = None,
        redirect_uri: str | None = None,
        state: str = "xyz",
        extra: dict[str, str] | None = None,
    ) -> str:
        """Run authorize (+ consent when shown) and return the code from the redirect."""
        params = {"response_type": "code", "client_id": app.client_id, "state": state}
        params["redirect_uri"] = redirect_uri or app.redirect_uri
        if scope is not None:
            params["scope"] = scope
        if challenge is not None:
            params["code_challenge"] = challenge
            params["code_challenge_method"] = "S256"
        params.update(extra or {})
        answer = self.authorize(params)
        if answer.status_code == 200:
            answer = self.consent(answer, "allow")
        assert answer.status_code == 302, answer.text
        query = query_of(answer.headers["location"])
        assert query.get("state") == state, query
        assert "code" in query, query
        return query["code"]


def new_browser(base_url: str) -> Browser:
    return Browser(httpx.Client(base_url=base_url, timeout=30, follow_redirects=False))


def person_with_password(factory: Factory) -> Person:
    return factory.user(password=PASSWORD)


def exchange(
    client: httpx.Client, app: App, code: str, verifier: str | None = None, **extra: str
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(client, app, form, **extra)


def refresh(client: httpx.Client, app: App, refresh_token: str, **extra: str) -> httpx.Response:
    return token_request(
        client, app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, **extra
    )


def bearer(token: Mapping[str, Any] | str) -> dict[str, str]:
    """The Authorization header of an access token (RFC 6750 §2.1), given the token or the
    token response holding it."""
    value = token if isinstance(token, str) else token["access_token"]
    return {"Authorization": f"Bearer {value}"}


def access_token(
    client: httpx.Client, browser: Browser, app: App, scope: str = "service.read service.write"
) -> str:
    """An access token for the browser's user, by the real code flow (consent, PKCE, code
    exchange at the token endpoint)."""
    verifier, challenge = pkce()
    code = browser.code(app, scope=scope, challenge=challenge)
    answer = exchange(client, app, code, verifier)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def access_token_for(
    base_url: str,
    client: httpx.Client,
    app: App,
    person: Person,
    scope: str = "service.read service.write",
) -> str:
    """`access_token` for `person`, logged in by a browser of its own."""
    browser = new_browser(base_url)
    try:
        browser.login(person)
        return access_token(client, browser, app, scope)
    finally:
        browser.http.close()


def token_request(
    client: httpx.Client, app: App, form: dict[str, str], **extra: str
) -> httpx.Response:
    data = {**form, **extra}
    if app.client_secret is None:
        data.setdefault("client_id", app.client_id)
        return client.post("/oauth2/token/", data=data)
    return client.post("/oauth2/token/", data=data, auth=app.auth)


class Listener:
    """A tiny local HTTP server on an ephemeral loopback port: what a native app listens on for
    its redirect, or a JavaScript app's page. Records the paths it was asked for."""

    def __init__(self, page: bytes = b"You can close this window.") -> None:
        received: list[str] = []
        body = page

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                received.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
