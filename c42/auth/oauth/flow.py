"""The authorization endpoint's decision (RFC 6749 §4.1.1-§4.1.2), framework-free.

`authorize` validates the request with Authlib and answers with one of four outcomes, which
the HTTP layer renders: an error page (client or redirect URI not valid — never redirect,
RFC 6749 §4.1.2.1), "log in first", the consent page, or a redirect back to the client (a
code, or an error). Consent is a record (STYLE §9): a confidential app the user already
allowed the same or wider scopes skips the page; a public app never does (RFC 6749 §10.2,
RFC 8252 §8.6: anyone can claim a public client's identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

from c42.auth import scopes
from c42.auth.oauth import consents
from c42.auth.oauth.models import Client
from c42.auth.oauth.redirect_uris import NOT_REGISTERED
from c42.auth.oauth.requests import OAuthRequest, OAuthResponse
from c42.auth.oauth.server import OAuthServer
from c42.auth.oidc import prompts
from c42.models import Service, User

# The parameters a consent form carries over from the authorization request.
CARRIED_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "service_id",
    "nonce",  # OpenID Connect: into the code's id_token
    "dpop_jkt",  # RFC 9449 §10: binds the code to a DPoP key
)
_LOGIN_REQUIRED = "prompt=none, but the user must log in first."
_CONSENT_REQUIRED = "prompt=none, but the user has not allowed this app these scopes."


@dataclass(frozen=True)
class ErrorPage:
    title: str
    message: str
    status_code: int = 400


@dataclass(frozen=True)
class LoginRequired:
    login_hint: str | None = None  # OIDC: the e-mail to fill in
    marker: str | None = None  # OIDC: a login after this marker satisfies the request


@dataclass(frozen=True)
class ConsentPrompt:
    app_name: str
    service_name: str
    is_public: bool
    scopes: tuple[tuple[str, str], ...]  # (scope, what it allows, in words)
    params: tuple[tuple[str, str], ...]  # the validated request; the consent form seals it
    redirect_origin: str  # where the form's answer redirects (the page's CSP must allow it)


Outcome = ErrorPage | LoginRequired | ConsentPrompt | OAuthResponse


def authorize(
    server: OAuthServer,
    request: OAuthRequest,
    user_id: str | None,
    decision: str | None,
    auth_time: datetime | None = None,
) -> Outcome:
    """`decision` is None for the GET, "allow" or "deny" for the consent form's POST.
    `auth_time`: when the browser session's user gave their password (OpenID Connect)."""
    try:
        grant = server.get_consent_grant(request, end_user=None)
        asked = _asked(server, request, grant.redirect_uri)
    except OAuth2Error as error:
        if error.redirect_uri:  # client and redirect URI are valid: the client hears of it
            return server.authorization_error(request, error)
        return ErrorPage("This sign-in link is not valid", _describe(error))
    client: Client = request.client
    for extension in server.config.extensions:  # e.g. silent OAuth (SPEC §5.4)
        if extension.takes_over(request):
            return extension.authorize(server, request, grant)
    user = _usable_user(server, user_id)
    if user is None or (decision is None and prompts.needs_login(asked, user.id, auth_time)):
        if asked.none:  # OIDC Core §3.1.2.6: never a page
            refusal = LoginRequiredError(_LOGIN_REQUIRED, redirect_uri=grant.redirect_uri)
            return server.authorization_error(request, refusal)
        marker = prompts.mark(server.config.server_key) if asked.wants_new_login else None
        return LoginRequired(asked.login_hint, marker)
    request.auth_time = auth_time  # into the code's id_token
    scope: str = request.scope
    if decision is None:
        remembered = (
            not asked.consent
            and not client.is_public
            and consents.covers(server.session, client.id, user.id, scope)
        )
        if not remembered:
            if asked.none:  # OIDC Core §3.1.2.6
                refusal = ConsentRequiredError(_CONSENT_REQUIRED, redirect_uri=grant.redirect_uri)
                return server.authorization_error(request, refusal)
            return _prompt(server, request, client, grant.redirect_uri, scope)
    elif decision == "deny":
        # RFC 6749 §4.1.2.1: access_denied, with state (and iss, RFC 9207).
        denied: OAuthResponse = server.create_authorization_response(
            request, grant_user=None, grant=grant
        )
        return denied
    elif decision == "allow":
        consents.remember(server.session, client.id, user.id, scope)
    else:
        return ErrorPage("Unknown answer", "Choose Allow or Deny on the consent page.")
    for extension in server.config.extensions:  # e.g. SPEC §5.4: a sandbox merges
        extension.after_consent(server, client, user)
    granted: OAuthResponse = server.create_authorization_response(
        request, grant_user=user, grant=grant
    )
    return granted


def _asked(server: OAuthServer, request: OAuthRequest, redirect_uri: str) -> prompts.Asked:
    config = server.config
    data = request.payload.data
    return prompts.read(data, redirect_uri, server.session, config.issuer, config.server_key)


def _usable_user(server: OAuthServer, user_id: str | None) -> User | None:
    if user_id is None:
        return None
    user = server.session.get(User, user_id)
    return user if user is not None and user.may_act else None  # SPEC §5.4: no sandbox


def _prompt(
    server: OAuthServer, request: OAuthRequest, client: Client, redirect_uri: str, scope: str
) -> ConsentPrompt:
    service = server.session.get(Service, client.service_id)
    service_name = service.name if service else "this service"
    data = request.payload.data
    params = tuple((name, data[name]) for name in CARRIED_PARAMS if data.get(name) is not None)
    described = scopes.describe(scopes.parse(scope), service_name)
    parts = urlsplit(redirect_uri)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    return ConsentPrompt(client.app.name, service_name, client.is_public, described, params, origin)


def _describe(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        return "The application asking for access is not registered here."
    # The description, never Authlib's get_error_description(): that one can quote the request.
    description: str = error.description or error.error
    if description == NOT_REGISTERED:
        return description
    if "redirect_uri" in description:
        return "The request names no redirect URI, and the application has several."
    return f"The application sent an invalid request: {description}"
