"""`/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): the RFC 8414
authorization server metadata (`c42.auth.oauth.metadata.authorization_server`, generated from the
registered grants, endpoints and scopes) plus the OpenID Provider values."""

from __future__ import annotations

from typing import Any

from c42.auth import scopes
from c42.auth.oauth import metadata
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oidc import keys

CONFIGURATION_PATH = "/.well-known/openid-configuration"  # OIDC Discovery §4
JWKS_PATH = "/oauth2/jwks/"
USERINFO_PATH = "/oauth2/userinfo/"
LOGOUT_PATH = "/oauth2/logout/"
# OIDC Core §2: the claims of every id_token (iss ... azp), then those the scopes release.
_ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp")


def openid_configuration(config: OAuthConfig) -> dict[str, Any]:
    issuer = config.issuer
    released = [
        claim
        for scope in scopes.registered()
        if scope.kind is scopes.ScopeKind.IDENTITY
        for claim in scope.claims
    ]
    return {
        **metadata.authorization_server(config),
        "jwks_uri": issuer + JWKS_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "end_session_endpoint": issuer + LOGOUT_PATH,  # RP-Initiated Logout 1.0 §2.1
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "claims_supported": list(dict.fromkeys([*_ID_TOKEN_CLAIMS, *released])),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
