"""Authlib's model contracts (RFC 6749 client, authorization code, token) over our rows.

Thin wrappers over the records our repositories return, and every secret check goes through
`apps.check_secret` (constant time, on digests).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from c42.auth import scopes
from c42.auth.oauth import apps
from c42.auth.oauth.apps import AppRow
from c42.auth.oauth.client_auth import PUBLIC_METHOD, SECRET_METHODS
from c42.auth.oauth.redirect_uris import default_for, matches
from c42.auth.oauth.tokens import TokenRow
from c42.models import OAuthAuthorizationCode, utcnow


class Client(ClientMixin):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, app: AppRow, server_key: str) -> None:
        self.app = app
        self.id = app.id
        self.client_id = app.client_id
        self.service_id = app.service_id
        self.is_public = app.is_public
        self._server_key = server_key

    @property
    def requires_pkce(self) -> bool:
        return self.app.is_public or self.app.require_pkce  # SPEC §5.3, RFC 9700 §2.1.1

    @property
    def allowed_scopes(self) -> frozenset[str]:
        # Identity scopes (OpenID Connect) are open to every app (SPEC §10).
        return scopes.parse(self.app.allowed_scopes) | scopes.of_kind(scopes.ScopeKind.IDENTITY)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return default_for(self.app.redirect_uris)

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """RFC 6749 §3.3: no scope means the registry's default; a scope the app may not
        ask for makes the request fail (`None` -> invalid_scope), never silently narrowed."""
        requested = scopes.parse(scope) or scopes.default_scopes()
        if not requested <= self.allowed_scopes:
            return None
        return scopes.join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return matches(self.app.redirect_uris, redirect_uri, public=self.is_public)

    def check_client_secret(self, client_secret: str) -> bool:
        return apps.check_secret(self.app, self._server_key, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Public apps are identified by client_id alone; confidential apps must authenticate.
        if self.is_public:
            return method == PUBLIC_METHOD
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        # Only the registered grants' response types reach a client (`code`: no implicit
        # grant, OAuth 2.1); every app may use each of them.
        return True

    def check_grant_type(self, grant_type: str) -> bool:
        # Every grant the server registers (RFC 8414 `grant_types_supported`) is open to every
        # app; a grant only some apps may use says so here.
        if grant_type == DEVICE_CODE_GRANT_TYPE:  # RFC 8628: apps flagged `--device` only
            return bool(self.app.allow_device)
        return True


class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, row: OAuthAuthorizationCode) -> None:
        self.row = row
        self.id = row.id
        self.user_id = row.user_id
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str | None:
        # RFC 6749 §4.1.3: required at the token endpoint only if it was sent when authorising.
        return self.row.redirect_uri if self.row.redirect_uri_sent else None

    def get_scope(self) -> str:
        return self.row.scope


TokenKind = Literal["access", "refresh"]  # the two sides of a stored token pair


class Token(TokenMixin):  # type: ignore[misc]  # Authlib is untyped
    """One side (`access` or `refresh`) of a stored token pair."""

    def __init__(self, row: TokenRow, kind: TokenKind) -> None:
        self.row = row
        self.kind = kind

    def check_client(self, client: Client) -> bool:
        return self.row.app_id == client.id

    def get_scope(self) -> str:
        return self.row.scope

    @property
    def expires_at(self) -> datetime | None:
        if self.kind == "access":
            return self.row.access_expires_at
        return self.row.refresh_expires_at

    def get_expires_in(self) -> int:
        expires_at = self.expires_at
        return max(0, int((expires_at - utcnow()).total_seconds())) if expires_at else 0

    def is_expired(self) -> bool:
        expires_at = self.expires_at
        return expires_at is None or expires_at <= utcnow()

    def is_revoked(self) -> bool:
        if not self.row.user_usable:
            return True  # an inactive or closed account's tokens do not work
        if self.kind == "access":
            return self.row.access_revoked_at is not None
        return self.row.refresh_revoked_at is not None or self.row.rotated_at is not None
