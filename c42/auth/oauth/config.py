"""The narrow configuration the protocol core reads (lifetimes, limits, issuer, server key,
and the authorization endpoint's extensions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from c42.auth.dpop.proofs import ProofChecker
from c42.auth.oauth.extensions import AuthorizationExtension
from c42.settings import Settings


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    issuer: str  # RFC 8414 §2 / RFC 9207 §2: the `iss` of every authorization response
    server_key: str  # keys the client-secret digests
    access_token_lifetime: int  # seconds
    refresh_token_lifetime: int
    code_lifetime: int  # RFC 6749 §4.1.2: short-lived, at most 60 s here
    refresh_tokens_per_app_user: int
    refresh_tokens_per_user: int
    refresh_grace_seconds: int  # a just-rotated refresh token retried gets its successor again
    extensions: tuple[AuthorizationExtension, ...] = ()  # c42.auth.oauth.extensions
    # RFC 9449: the process's one DPoP proof checker (nonce key, jti replay cache), used by the
    # token endpoint and by the API (c42.resources.deps).
    dpop: ProofChecker | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, extensions: Sequence[AuthorizationExtension] = ()
    ) -> OAuthConfig:
        return cls(
            issuer=settings.issuer.rstrip("/"),
            server_key=settings.resolved_secret_key(),
            access_token_lifetime=settings.access_token_lifetime,
            refresh_token_lifetime=settings.refresh_token_lifetime,
            code_lifetime=settings.authorization_code_lifetime,
            refresh_tokens_per_app_user=settings.refresh_tokens_per_app_user,
            refresh_tokens_per_user=settings.refresh_tokens_per_user,
            refresh_grace_seconds=settings.refresh_grace_seconds,
            extensions=tuple(extensions),
            dpop=ProofChecker(
                settings.resolved_secret_key(),
                settings.redis_url,
                require_nonce=settings.dpop_require_nonce,
            ),
        )
