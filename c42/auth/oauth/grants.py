"""The two grants we offer (RFC 6749 §4.1 authorization code, §6 refresh token) and PKCE.

Authlib drives the protocol; these classes supply its storage hooks and our stricter rules:
single-use codes and rotating refresh tokens claimed by one conditional UPDATE each, replay
punished by revocation, PKCE `S256` only, and C42's `service_id` / `service` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from c42.auth import secrets
from c42.auth.oauth import codes, tokens
from c42.auth.oauth.models import AuthorizationCode, Client, Token
from c42.models import User, utcnow

if TYPE_CHECKING:
    from c42.auth.oauth.server import OAuthServer

# RFC 6749 §2.3.1 for confidential apps; "none" identifies a public app by its client_id.
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class PKCE(CodeChallenge):
    """RFC 7636 with `plain` refused (RFC 7636 §7.2, RFC 9700 §2.1.1): a challenge must name
    `S256` explicitly, since an absent method means `plain` (RFC 7636 §4.3)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


@dataclass(frozen=True)
class TokenOwner:
    """The user a refreshed token is issued to: only its id is needed to store the new pair."""

    id: str


def _check_service_param(request: Any) -> None:
    # C42 compat: the token endpoint's `service` must name the app's service when present.
    service = request.form.get("service")
    if service is not None and service != request.client.service_id:
        raise InvalidRequestError("'service' does not match the app's service.")


def _usable_user(server: OAuthServer, user_id: str) -> User | None:
    user = server.session.get(User, user_id)
    if user is None or not user.is_active or user.closed_at is not None:
        return None
    return user


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: OAuthServer

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        client: Client = self.request.client
        data = self.request.payload.data
        service_id = data.get("service_id")
        if service_id is not None and service_id != client.service_id:
            # C42 compat: `service_id` on authorize must name the app's service.
            raise InvalidRequestError(
                "'service_id' does not match the app's service.", redirect_uri=redirect_uri
            )
        if client.requires_pkce and not data.get("code_challenge"):
            # RFC 7636 §4.4.1: a server that requires PKCE answers invalid_request.
            raise InvalidRequestError(
                "This app must use PKCE: send code_challenge with code_challenge_method=S256.",
                redirect_uri=redirect_uri,
            )
        return redirect_uri

    def generate_authorization_code(self) -> str:
        return secrets.new_opaque_token()

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        sent = data.get("redirect_uri")
        codes.save(
            self.server.session,
            code=code,
            app_id=request.client.id,
            user_id=request.user.id,
            redirect_uri=sent or request.client.get_default_redirect_uri(),
            redirect_uri_sent=bool(sent),
            scope=request.scope,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            lifetime=self.server.config.code_lifetime,
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        row = codes.find(self.server.session, code, lock=True)
        if row is None:
            return None
        if row.used_at is not None:
            self.server.punish_code_replay(row)  # RFC 6749 §4.1.2 / §10.5
            return None
        if row.app_id != client.id or row.expires_at <= utcnow():
            return None  # RFC 6749 §4.1.3: bound to its client; RFC 6749 §4.1.2: short-lived
        return AuthorizationCode(row)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_service_param(self.request)

    def create_token_response(self) -> Any:
        code: AuthorizationCode = self.request.authorization_code
        if not codes.claim(self.server.session, code.id):
            # Lost the race to a concurrent redemption of the same code: that is a replay.
            self.server.punish_code_replay(code.row)
            raise InvalidGrantError("The authorization code was already used.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # claimed above; the used row stays to recognise replays until it expires

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return _usable_user(self.server, authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # RFC 9700 §4.14.2: rotate on every use
    server: OAuthServer

    def validate_token_request(self) -> None:
        super().validate_token_request()  # RFC 6749 §6: no scope beyond the original grant
        _check_service_param(self.request)

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = tokens.by_refresh(self.server.uow, refresh_token, lock=True)
        if row is None:
            return None
        if row.rotated_at is not None:
            self.server.punish_refresh_reuse(row)  # RFC 9700 §4.14.2
            return None
        token = Token(row, "refresh")
        if token.is_revoked() or token.is_expired():  # revoked includes an unusable account
            return None
        return token

    def create_token_response(self) -> Any:
        old: Token = self.request.refresh_token
        if not tokens.claim_rotation(self.server.uow, old.row.id):
            # Lost the race to a concurrent refresh with the same token: that is a reuse.
            self.server.punish_refresh_reuse(old.row)
            raise InvalidGrantError("The refresh token was already used.")
        return super().create_token_response()

    def authenticate_user(self, refresh_token: Token) -> TokenOwner | None:
        # The account's state came with the token row (one statement, same transaction).
        row = refresh_token.row
        return TokenOwner(row.user_id) if row.user_usable else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # rotated by claim_rotation above; its access token lives out its short life
