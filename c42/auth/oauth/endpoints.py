"""Token revocation (RFC 7009) and introspection (RFC 7662) on our token storage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from c42 import audit
from c42.auth.oauth import dpop, tokens
from c42.auth.oauth.client_auth import ANY_METHOD, SECRET_METHODS
from c42.auth.oauth.models import Client, Token

if TYPE_CHECKING:
    from c42.auth.oauth.server import OAuthServer


def _check_params(request: Any) -> None:
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token'.")
    # RFC 7009 §2.1 / RFC 7662 §2.1: token_type_hint is only a hint; an unknown or wrong hint
    # widens the search instead of failing the request.


class Revocation(RevocationEndpoint):  # type: ignore[misc]  # Authlib is untyped
    """RFC 7009 §2.1: confidential apps authenticate; public apps send their client_id."""

    CLIENT_AUTH_METHODS = list(ANY_METHOD)
    server: OAuthServer

    def check_params(self, request: Any, client: Client) -> None:
        _check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request: Any) -> None:
        session = self.server.uow
        if token.kind == "refresh":
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the
            # same grant — here the whole rotation family.
            revoked = tokens.revoke_family(session, token.row.family_id)
        else:
            revoked = tokens.revoke_access(session, token.row.id)
        self.server.revoked_access_digests.extend(revoked)
        audit.record(
            session,
            audit.Types.CREDENTIAL_REVOKED,
            user_id=token.row.user_id,
            client_id=self.server.client_id_of(token.row.app_id),
            credential_id=token.row.id,
            kind="oauth",
            which=token.kind,
            via="revocation_endpoint",
        )


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]  # Authlib is untyped
    """RFC 7662 §2.1: the caller authenticates (confidential apps); §4: a client learns about
    its own tokens only — any other token is reported `{"active": false}`."""

    CLIENT_AUTH_METHODS = list(SECRET_METHODS)
    server: OAuthServer

    def check_params(self, request: Any, client: Client) -> None:
        _check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: Token) -> dict[str, Any]:
        row = token.row
        expires_at = token.expires_at
        payload: dict[str, Any] = {
            "active": True,
            "scope": row.scope,
            "client_id": self.server.client_id_of(row.app_id),
            "sub": row.user_id,
            "iss": self.server.config.issuer,
            "iat": _epoch(row.issued_at),
            "exp": _epoch(expires_at),
            "service_id": self.server.service_id_of(row.app_id),  # C42: the token's service
        }
        if token.kind == "access":
            payload["token_type"] = dpop.token_type(row.dpop_jkt)  # RFC 7662 §2.2
            if row.dpop_jkt:
                payload["cnf"] = {"jkt": row.dpop_jkt}  # RFC 9449 §6.2
        return payload


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.replace(tzinfo=UTC).timestamp()) if moment else None  # stored naive UTC
