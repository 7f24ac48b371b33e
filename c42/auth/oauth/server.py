"""The authorization server: Authlib's `AuthorizationServer` bound to one unit of work.

A server is built per request around that request's unit of work (STYLE §8: Authlib runs
synchronously with its own transaction): the token endpoint's hot statements run compiled on
its connection (`self.uow`), everything else through an ORM session joined to the same
transaction on first use (`self.session`). Building a server is a handful of object
creations. Revocations made while serving a request are collected in `revoked_access_digests`,
for the caller to evict from the credential cache after commit.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import scopes, secrets
from c42.auth.oauth import apps, client_auth, dpop, error_texts, tokens
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oauth.device import DeviceAuthorization, DeviceGrant
from c42.auth.oauth.endpoints import Introspection, Revocation
from c42.auth.oauth.grants import PKCE, AuthorizationCodeGrant, RefreshTokenGrant
from c42.auth.oauth.models import Client, Token, TokenKind
from c42.auth.oauth.par import PushedAuthorization
from c42.auth.oauth.requests import OAuthRequest, OAuthResponse
from c42.auth.oauth.wellformed import AcceptedText, describable
from c42.auth.oidc.id_tokens import IDTokens
from c42.models import OAuthAuthorizationCode, User
from c42.unit_of_work import UnitOfWork


class _Issuer(IssuerParameter):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class OAuthServer(AuthorizationServer):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, uow: UnitOfWork, config: OAuthConfig) -> None:
        super().__init__(scopes_supported=scopes.names())  # RFC 6749 §3.3
        self.uow = uow
        self.config = config
        self.revoked_access_digests: list[str] = []
        self._apps: dict[str, apps.AppRow] = {}
        self.register_token_generator("default", self._generate_token)
        # One reader of HTTP Basic client credentials, strict (RFC 6749 §2.3.1).
        self.register_client_auth_method(
            "client_secret_basic", client_auth.authenticate_client_secret_basic
        )
        # RFC 7636: PKCE is checked for every client that sent a challenge; "required" makes
        # the verifier mandatory for public clients at the token endpoint too.
        # SPEC §6: only accepted text in an authorization request (c42.auth.oauth.wellformed).
        # OIDC Core §3.1.3.3 / §12.2: an `openid` code exchange and its refreshes add an
        # id_token (c42.auth.oidc.id_tokens).
        id_tokens = IDTokens(self)
        self.register_grant(
            AuthorizationCodeGrant, [PKCE(required=True), AcceptedText(), id_tokens]
        )
        self.register_grant(RefreshTokenGrant, [id_tokens])
        # RFC 8628, for apps flagged allow_device; an `openid` device token gets an id_token.
        self.register_grant(DeviceGrant, [id_tokens])
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(DeviceAuthorization)
        self.register_endpoint(PushedAuthorization)  # RFC 9126
        self.issuer_parameter = _Issuer(config.issuer)  # RFC 9207 §2: `iss` on every response
        self.register_extension(self.issuer_parameter)

    @property
    def session(self) -> Session:
        return self.uow.session

    # -- Authlib's storage and framework hooks ------------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        app = apps.find(self.uow, client_id) if isinstance(client_id, str) else None
        if app is None:
            return None
        self._apps[app.id] = app
        return Client(app, self.config.server_key)

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Client:
        client: Client = super().authenticate_client(request, methods, endpoint)
        if endpoint == "token":
            dpop.require_any(request, client)  # before any grant uses up its code or token
        return client

    def get_authorization_grant(self, request: Any) -> AuthorizationCodeGrant:
        if AuthorizationCodeGrant.check_authorization_endpoint(request):
            grant: AuthorizationCodeGrant = super().get_authorization_grant(request)
            return grant
        # RFC 6749 §4.1.2.1: unsupported_response_type. Authlib's own error quotes the value,
        # and cannot even be built from one holding `"`, `\`, a control or a non-ASCII
        # character: ours names the rule.
        error = UnsupportedResponseTypeError(
            request.payload.response_type, "Only response_type=code is supported."
        )
        error.redirect_uri = self.error_redirect_uri(request)
        raise error

    def error_redirect_uri(self, request: OAuthRequest) -> str | None:
        """RFC 6749 §4.1.2.1: where an authorization error may be redirected — the registered
        redirect URI the request names (or the client's only one) of a registered client —
        or None: the resource owner sees an error page instead."""
        client = self.query_client(request.payload.client_id)
        if client is None:
            return None
        sent = request.payload.redirect_uri
        if sent:
            return sent if client.check_redirect_uri(sent) else None
        return client.get_default_redirect_uri()

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        previous: Token | None = request.refresh_token
        code = request.authorization_code
        if previous is not None:  # a rotation: same family, same originating code
            family_id, code_id = previous.row.family_id, previous.row.code_id
        else:
            family_id, code_id = None, code.id if code is not None else None
        jkt = dpop.binding(request)  # RFC 9449 §5: bound to the proof's key, if one was sent
        token["token_type"] = dpop.token_type(jkt)
        token_id = tokens.insert(
            self.uow,
            app_id=request.client.id,
            user_id=request.user.id,
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scope=token["scope"],
            family_id=family_id,
            code_id=code_id,
            access_lifetime=self.config.access_token_lifetime,
            refresh_lifetime=self.config.refresh_token_lifetime,
            dpop_jkt=jkt,
        )
        if previous is None:  # a new grant (a rotation continues its family: not audited)
            audit.record(
                self.uow,
                audit.Types.CREDENTIAL_ISSUED,
                user_id=request.user.id,
                client_id=request.client.client_id,
                service_id=request.client.service_id,
                credential_id=token_id,
                kind="oauth",
                scope=token["scope"],
            )
        if token.get("refresh_token"):
            tokens.enforce_limits(
                self.uow,
                request.client.id,
                request.user.id,
                self.config.refresh_tokens_per_app_user,
                self.config.refresh_tokens_per_user,
            )

    def create_oauth2_request(self, request: Any) -> OAuthRequest:
        if not isinstance(request, OAuthRequest):
            raise TypeError("the HTTP adapter passes an OAuthRequest")
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass  # no signal subscribers; revocations are collected in revoked_access_digests

    def create_token_response(self, request: Any = None) -> OAuthResponse:
        refused = self._refused(request) or self._read_dpop(request)
        if refused is not None:
            return refused
        response: OAuthResponse = super().create_token_response(request)
        checker = self.config.dpop
        if checker is not None and checker.require_nonce and response.status == 200:
            # RFC 9449 §8.2: a fresh nonce along with the tokens, for the client's next proof.
            response.headers.append(("DPoP-Nonce", checker.nonces.current()))
        return response

    def create_endpoint_response(self, name: str, request: Any = None) -> OAuthResponse:
        refused = self._refused(request)
        if refused is None and name == PushedAuthorization.ENDPOINT_NAME:
            refused = self._read_dpop(request)  # RFC 9449 §10.1: a proof binds the request
        if refused is not None:
            return refused
        response: OAuthResponse = super().create_endpoint_response(name, request)
        return response

    def _read_dpop(self, request: OAuthRequest) -> OAuthResponse | None:
        """RFC 9449 §4.3, §5: the request's DPoP proof, checked once before Authlib runs and
        kept on the request for the grants; a refused proof is the answer."""
        try:
            request.dpop = dpop.read_proof(self.config.dpop, request, self.config.issuer)
        except OAuth2Error as error:
            response: OAuthResponse = self.handle_error_response(request, error)
            return response
        return None

    def get_consent_grant(self, request: Any = None, end_user: Any = None) -> Any:
        repeated = request.payload.data.repeated()
        if repeated:
            raise self._repeated_at_authorization(request, repeated)
        try:
            return super().get_consent_grant(request, end_user)
        except OAuth2Error as error:  # SPEC §8: our words, also on the error page
            raise error_texts.ours(error) from None

    def handle_error_response(self, request: Any, error: OAuth2Error) -> OAuthResponse:
        """Every error answer (JSON body, WWW-Authenticate, error redirect): our words."""
        response: OAuthResponse = super().handle_error_response(request, error_texts.ours(error))
        return response

    # -- helpers for grants, endpoints and the authorization flow -----------------------------

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        # RFC 6749 §5.1 / RFC 6750: opaque Bearer tokens; only their digests are stored.
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.new_opaque_token(),
            "expires_in": self.config.access_token_lifetime,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.new_opaque_token()
        return token

    def _refused(self, request: OAuthRequest) -> OAuthResponse | None:
        """What the token, revocation and introspection endpoints refuse before Authlib reads
        the request."""
        try:
            names = request.form.repeated()
            if names:
                # RFC 6749 §3.2: parameters "MUST NOT be included more than once". No parameter
                # of these endpoints may repeat (RFC 8707's `resource` could; we do not offer it).
                raise InvalidRequestError(_repeated_description(names))
            # RFC 6749 §2.3: readable credentials, one client, one method.
            client_auth.claimed_client_id(request.headers.getlist("authorization"), request.form)
        except OAuth2Error as error:
            response: OAuthResponse = self.handle_error_response(request, error)
            return response
        return None

    def _repeated_at_authorization(self, request: OAuthRequest, names: list[str]) -> OAuth2Error:
        """RFC 6749 §3.1: no parameter of an authorization request may repeat. RFC 6749
        §4.1.2.1: the error is redirected only once the client and its redirect URI are known
        (neither of them repeated, both valid); otherwise it is an error page."""
        error = InvalidRequestError(_repeated_description(names))
        if "client_id" not in names and "redirect_uri" not in names:
            error.redirect_uri = self.error_redirect_uri(request)
        return error

    def authorization_error(self, request: OAuthRequest, error: OAuth2Error) -> OAuthResponse:
        """RFC 6749 §4.1.2.1: an error redirect to the (validated) redirect URI, with `state`
        and RFC 9207's `iss`. A repeated `state` has no one value to send back: none is sent."""
        repeated_state = "state" in request.payload.data.repeated()
        error.state = None if repeated_state else request.payload.state
        response: OAuthResponse = self.handle_error_response(request, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response

    def find_token(self, value: str, hint: str | None) -> Token | None:
        """An access or refresh token by its value; the hint only picks which to try first."""
        kinds: tuple[TokenKind, TokenKind] = (
            ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
        )
        for kind in kinds:
            row = (tokens.by_access if kind == "access" else tokens.by_refresh)(self.uow, value)
            if row is not None:
                return Token(row, kind)
        return None

    def _app(self, app_id: str) -> apps.AppRow | None:
        app = self._apps.get(app_id) or apps.by_id(self.uow, app_id)
        if app is not None:
            self._apps[app_id] = app
        return app

    def client_id_of(self, app_id: str) -> str | None:
        app = self._app(app_id)
        return app.client_id if app else None

    def service_id_of(self, app_id: str) -> str | None:
        app = self._app(app_id)
        return app.service_id if app else None

    def punish_code_replay(self, code: OAuthAuthorizationCode) -> None:
        """RFC 6749 §4.1.2 / §10.5: a code used twice revokes what it issued."""
        revoked = tokens.revoke_issued_from_code(self.uow, code.id)
        self.revoked_access_digests.extend(revoked)
        audit.record(
            self.session,
            audit.Types.CODE_REPLAY,
            user_id=code.user_id,
            client_id=self.client_id_of(code.app_id),
            service_id=self.service_id_of(code.app_id),
            credential_id=code.id,
            revoked_tokens=len(revoked),
        )

    def punish_refresh_reuse(self, row: tokens.TokenRow) -> None:
        """RFC 9700 §4.14.2: reuse of a rotated refresh token revokes its whole family."""
        revoked = tokens.revoke_family(self.uow, row.family_id)
        self.revoked_access_digests.extend(revoked)
        audit.record(
            self.session,
            audit.Types.REFRESH_REUSE,
            user_id=row.user_id,
            client_id=self.client_id_of(row.app_id),
            service_id=self.service_id_of(row.app_id),
            credential_id=row.id,
            family_id=row.family_id,
            revoked_tokens=len(revoked),
        )


def _repeated_description(names: list[str]) -> str:
    # Names come from the request: shown only as RFC 6749 §5.2 allows (wellformed.describable).
    return f"Repeated parameter: {', '.join(describable(name) for name in names)}."
