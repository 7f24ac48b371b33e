"""The two grants we offer (RFC 6749 §4.1 authorization code, §6 refresh token) and PKCE.

Authlib drives the protocol; these classes supply its storage hooks and our stricter rules:
single-use codes and rotating refresh tokens claimed by one conditional UPDATE each, PKCE
`S256` only, and C42's `service_id` / `service` parameters.

A code or refresh token presented a second time goes through every check of a first
presentation; only then is it judged (`may_punish`): a replay revokes what it issued, unless
it is a refresh retried within the grace period, which gets the successor already issued.
A code's client gets one attempt: a failed redemption uses the code up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error, grants
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN

from c42.auth import scopes, secrets
from c42.auth.oauth import codes, dpop, tokens
from c42.auth.oauth.client_auth import ANY_METHOD, SECRET_METHODS
from c42.auth.oauth.models import AuthorizationCode, Client, Token
from c42.auth.oauth.redirect_uris import NOT_REGISTERED
from c42.models import OAuthAuthorizationCode, User, utcnow
from c42.models.users import OPEN

if TYPE_CHECKING:
    from c42.auth.oauth.server import OAuthServer

# RFC 6749 §2.3.1 for confidential apps; "none" identifies a public app by its client_id.
TOKEN_AUTH_METHODS = list(ANY_METHOD)


class PKCE(CodeChallenge):  # type: ignore[misc]  # Authlib is untyped
    """RFC 7636 with `plain` refused (RFC 7636 §7.2, RFC 9700 §2.1.1): a challenge must name
    `S256` explicitly, since an absent method means `plain` (RFC 7636 §4.3)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        method = data.get("code_challenge_method")
        if data.get("code_challenge") and method not in self.SUPPORTED_CODE_CHALLENGE_METHOD:
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


@dataclass(frozen=True)
class TokenOwner:
    """The user a refreshed token is issued to: only its id is needed to store the new pair."""

    id: str


def may_punish(request: Any, app_id: str, code: OAuthAuthorizationCode | None = None) -> bool:
    """Who may trigger the punishment of a second presentation: a replayed code revokes every
    token issued from it (RFC 6749 §4.1.2, §10.5), a reused refresh token revokes its family
    (RFC 9700 §4.14.2). Only the client the code or token was issued to, proven:

    - another client, or an unauthenticated request, never (it gets invalid_client or
      invalid_grant and revokes nothing: RFC 6749 §4.1.3 and §10.4 bind codes and refresh
      tokens to their client);
    - a confidential client by its secret (RFC 6749 §2.3.1), and by the code's PKCE verifier
      too when the code carries a challenge;
    - a public client replaying a code by the code's PKCE verifier (RFC 7636 §4.6): its
      client_id is public, so anyone holding a leaked code could otherwise revoke the tokens
      the client rightly got with it;
    - a public client reusing a refresh token by the refresh token itself: the very case
      RFC 9700 §4.14.2 reuse detection is for (the server cannot tell the thief from the
      client, so the family goes).

    Callers ask only once the request has passed every check a first presentation must pass
    (redirect_uri, PKCE, scope, `service`), so a malformed replay punishes nothing either."""
    client: Client | None = request.client
    if client is None or client.id != app_id:
        return False
    if code is not None and code.code_challenge is not None:
        verifier = request.form.get("code_verifier") or ""
        if not CODE_VERIFIER_PATTERN.fullmatch(verifier):
            return False
        if not secrets.same(create_s256_code_challenge(verifier), code.code_challenge):
            return False
    if client.is_public:
        return code is None or code.code_challenge is not None
    return request.auth_method in SECRET_METHODS


def _token_body(
    access_token: str,
    refresh_token: str | None,
    expires_in: int,
    scope: str,
    jkt: str | None = None,
) -> dict[str, Any]:
    """RFC 6749 §5.1 / RFC 6750 (RFC 9449 §5 for a DPoP-bound access token): the body of a
    successful token response."""
    token: dict[str, Any] = {
        "token_type": dpop.token_type(jkt),
        "access_token": access_token,
        "expires_in": expires_in,
        "scope": scope,
    }
    if refresh_token is not None:
        token["refresh_token"] = refresh_token
    return token


def _check_service_param(request: Any) -> None:
    # C42 compat: the token endpoint's `service` must name the app's service when present.
    service = request.form.get("service")
    if service is not None and service != request.client.service_id:
        raise InvalidRequestError("'service' does not match the app's service.")


def _usable_user(server: OAuthServer, user_id: str) -> User | None:
    user = server.session.get(User, user_id)
    return user if user is not None and user.standing in OPEN else None  # sandboxes too


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]  # Authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: OAuthServer
    presented: OAuthAuthorizationCode | None = None  # the code row, once bound to the client

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        # RFC 6749 §3.1.2.3 / §4.1.2.1. Authlib's refusal quotes the URI, and cannot even be
        # built from one holding `"`, `\`, a control or a non-ASCII character: ours never does.
        sent = request.payload.redirect_uri
        if sent and not client.check_redirect_uri(sent):
            raise InvalidRequestError(NOT_REGISTERED)
        redirect_uri: str = grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(
            request, client
        )
        return redirect_uri

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
        try:
            dpop.authorization_jkt(data)  # RFC 9449 §10
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
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
            nonce=data.get("nonce"),  # OIDC Core §3.1.2.1, for the id_token
            auth_time=getattr(request, "auth_time", None),  # set by the flow from the login
            dpop_jkt=dpop.authorization_jkt(data),  # RFC 9449 §10: redeemed only by that key
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        row = codes.find(self.server.session, code, lock=True)
        if row is None or row.app_id != client.id:
            return None  # RFC 6749 §4.1.3: bound to its client; another client punishes nothing
        if row.used_at is None and row.expires_at <= utcnow():
            return None  # RFC 6749 §4.1.2: short-lived
        self.presented = row  # a used code goes on: a replay is judged once the request is valid
        return AuthorizationCode(row)

    def validate_token_request(self) -> None:
        try:
            super().validate_token_request()  # client, code, redirect_uri; then PKCE (a hook)
            _check_service_param(self.request)
            # RFC 9449 §10: a code bound by dpop_jkt needs a proof by that key.
            row = self.request.authorization_code.row
            dpop.require_key(self.request, row.dpop_jkt, "The authorization code")
        except OAuth2Error:
            if self.presented is not None:
                # RFC 7636 §4.6, RFC 9700 §4.8: a failed redemption by the code's client
                # (wrong or missing verifier, wrong redirect_uri) uses the code up, so that
                # verifiers cannot be guessed online. Nothing was issued from an unused code.
                codes.claim(self.server.session, self.presented.id)
            raise

    def create_token_response(self) -> Any:
        code: AuthorizationCode = self.request.authorization_code
        if code.row.used_at is not None or not codes.claim(self.server.session, code.id):
            # Used before, or by a concurrent redemption that won the race: a replay.
            if may_punish(self.request, code.row.app_id, code.row):
                self.server.punish_code_replay(code.row)  # RFC 6749 §4.1.2 / §10.5
            raise InvalidGrantError("The authorization code was already used.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # claimed above; the used row stays to recognise replays until it expires

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return _usable_user(self.server, authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]  # Authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # RFC 9700 §4.14.2: rotate on every use
    server: OAuthServer

    def validate_token_request(self) -> None:
        super().validate_token_request()  # RFC 6749 §6: no scope beyond the original grant
        _check_service_param(self.request)
        # RFC 9449 §5: a public app's refresh token is bound to the key of its pair's access
        # token (a confidential app's is bound to its client authentication instead).
        row = self.request.refresh_token.row
        bound = row.dpop_jkt if self.request.client.is_public else None
        dpop.require_key(self.request, bound, "The refresh token")

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = tokens.by_refresh(self.server.uow, refresh_token, lock=True)
        if row is None:
            return None
        token = Token(row, "refresh")
        if row.rotated_at is not None:
            return token  # a second presentation: judged once the request is valid
        if token.is_revoked() or token.is_expired():  # revoked includes an unusable account
            return None
        return token

    def create_token_response(self) -> Any:
        old: Token = self.request.refresh_token
        if old.row.rotated_at is None and tokens.claim_rotation(self.server.uow, old.row.id):
            return super().create_token_response()
        # Rotated before, or by a concurrent refresh that won the race: a second presentation.
        retried = self._successor_within_grace(old)
        if retried is not None:
            user = self.authenticate_user(old)
            if user is None:
                raise InvalidGrantError("The refresh token is no longer valid.")
            # The same answer as the first refresh, so the token hooks run again: an openid
            # grant gets its id_token, same sub and auth_time (OIDC Core §12.2).
            self.request.user = user
            response = 200, retried, self.TOKEN_RESPONSE_HEADER
            self.execute_hook("after_create_token_response", response)
            return response
        if may_punish(self.request, old.row.app_id):
            self.server.punish_refresh_reuse(old.row)  # RFC 9700 §4.14.2
        raise InvalidGrantError("The refresh token was already used.")

    def issue_token(self, user: TokenOwner, refresh_token: Token) -> dict[str, Any]:
        """The successor pair is derived from the presented refresh token (see
        `secrets.successor_tokens`), so that a retry within the grace period gets it again."""
        scope = self.request.payload.scope or refresh_token.get_scope()  # RFC 6749 §6
        access, refresh = self._successor_of(refresh_token)
        return _token_body(access, refresh, self.server.config.access_token_lifetime, scope)

    def _successor_of(self, refresh_token: Token) -> tuple[str, str]:
        presented = self.request.form["refresh_token"]
        return secrets.successor_tokens(
            presented, refresh_token.row.id, self.server.config.server_key
        )

    def _successor_within_grace(self, old: Token) -> dict[str, Any] | None:
        """C42 rule for concurrent refreshes (as Hydra's and django-oauth-toolkit's grace
        period): the client presenting a just-rotated refresh token again, within
        `refresh_grace_seconds` of its rotation and asking for the same scope, gets the pair
        that rotation issued — if that pair is still live (not rotated, revoked or expired).
        Anything else is reuse (RFC 9700 §4.14.2). The pair is recomputed, never stored."""
        grace = self.server.config.refresh_grace_seconds
        now = utcnow()
        rotated_at = old.row.rotated_at or now  # None: rotated just now by a concurrent refresh
        if not grace or now - rotated_at > timedelta(seconds=grace):
            return None
        access, refresh = self._successor_of(old)
        successor = tokens.by_refresh(self.server.uow, refresh)
        if (
            successor is None
            or successor.family_id != old.row.family_id
            or not secrets.same(successor.access_digest, secrets.digest(access))
            or not tokens.is_live(successor, now)
        ):
            return None
        asked = self.request.payload.scope or old.row.scope
        if scopes.parse(asked) != scopes.parse(successor.scope):
            return None  # only an identical request is a retry
        if successor.dpop_jkt != dpop.binding(self.request):
            # RFC 9449 §5: a pair bound to a key goes only to a proof by that key (and a
            # Bearer pair never to a request that asks for a bound one).
            raise dpop.InvalidDPoPProofError(
                "A retried refresh must send a DPoP proof by the key of the first one, or none "
                "if the first had none."
            )
        expires_in = int((successor.access_expires_at - now).total_seconds())
        return _token_body(access, refresh, expires_in, successor.scope, successor.dpop_jkt)

    def authenticate_user(self, refresh_token: Token) -> TokenOwner | None:
        # The account's state came with the token row (one statement, same transaction).
        row = refresh_token.row
        return TokenOwner(row.user_id) if row.user_usable else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # rotated by claim_rotation above; its access token lives out its short life
