"""Helpers of the OpenID Connect tests: Authlib's own OpenID Connect relying party (the
framework-independent app of `authlib.integrations.base_client`, with its requests-based
OAuth2Session: discovery, PKCE, nonce, id_token validation through `parse_id_token` with
`CodeIDToken`, UserInfo), driven by a test "browser" that logs in and answers consent."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client.sync_app import BaseApp, OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

from tests.factories import Person
from tests.oauth.helpers import _HIDDEN, PASSWORD, App, Browser, query_of

DISCOVERY = "/.well-known/openid-configuration"


class _NoFramework:
    """The relying party keeps no tokens of its own between calls (the tests hold them)."""

    def update_token(self, *args: Any, **kwargs: Any) -> None:
        pass


class RelyingParty(OAuth2Mixin, OpenIDMixin, BaseApp):  # type: ignore[misc]
    client_cls = OAuth2Session


def relying_party(
    server_url: str, app: App, *, scope: str = "openid profile email", **client_kwargs: Any
) -> RelyingParty:
    kwargs: dict[str, Any] = {"scope": scope, "code_challenge_method": "S256", **client_kwargs}
    if app.client_secret is None:
        kwargs.setdefault("token_endpoint_auth_method", "none")
    return RelyingParty(
        _NoFramework(),
        name="c42",
        client_id=app.client_id,
        client_secret=app.client_secret,
        server_metadata_url=server_url + DISCOVERY,
        client_kwargs=kwargs,
    )


@dataclass
class SignIn:
    token: dict[str, Any]
    claims: dict[str, Any]  # the validated id_token's claims
    nonce: str
    state: str


def authorization(
    rp: RelyingParty, browser: Browser, redirect_uri: str, **params: Any
) -> tuple[dict[str, Any], httpx.Response]:
    """Start a sign-in: the browser opens the authorization URL (and allows on the consent
    page when one is shown). Returns what the RP started and the server's last answer."""
    started: dict[str, Any] = rp.create_authorization_url(redirect_uri, **params)
    started["redirect_uri"] = redirect_uri
    answer = browser.http.get(started["url"])
    if answer.status_code == 200 and 'id="consent-form"' in answer.text:
        answer = browser.consent(answer, "allow")
    return started, answer


def sign_in(rp: RelyingParty, browser: Browser, redirect_uri: str, **params: Any) -> SignIn:
    started, answer = authorization(rp, browser, redirect_uri, **params)
    return finish(rp, started, answer)


def log_in_at(browser: Browser, location: str, person: Person) -> httpx.Response:
    """The login page the server sent the browser to: log in there (the password again), and
    follow the way back; returns the answer of the authorization endpoint."""
    assert location.startswith("/accounts/login/"), location
    page = browser.http.get(location)
    assert page.status_code == 200 and 'id="login-form"' in page.text, page.text
    form = dict(_HIDDEN.findall(page.text))
    form = {name: html.unescape(value) for name, value in form.items()}
    form.update({"email": person.email, "password": person.password or PASSWORD})
    answer = browser.http.post("/accounts/login/", data=form)
    assert answer.status_code == 303, answer.text
    browser.person = person
    back = browser.http.get(answer.headers["location"])
    if back.status_code == 200 and 'id="consent-form"' in back.text:
        back = browser.consent(back, "allow")
    return back


def finish(rp: RelyingParty, started: dict[str, Any], answer: httpx.Response) -> SignIn:
    """The RP's side of a redirect carrying a code: exchange it, validate the id_token."""
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query.get("state") == started["state"], query
    assert "code" in query, query
    token = rp.fetch_access_token(
        started["redirect_uri"], code=query["code"], code_verifier=started["code_verifier"]
    )
    claims = rp.parse_id_token(token, nonce=started["nonce"])
    return SignIn(dict(token), dict(claims), started["nonce"], started["state"])
