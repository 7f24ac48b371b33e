"""RFC 8414 authorization server metadata, generated from what the server registers.

Nothing here is a second list: grant and response types come from the grants registered on
`OAuthServer`, authentication methods from those grants and endpoints (only methods the
client-auth registry knows), PKCE methods from the registered PKCE extension, scopes from
`c42.auth.scopes`, endpoint URLs from the paths below (the routes are declared with them).
A new grant, endpoint, auth method or scope shows up here by being registered.

`authorization_server(config)` returns a plain dict; OpenID Connect Discovery
(`c42.auth.oidc.discovery`) adds its keys to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter

from c42.auth import scopes
from c42.auth.dpop.proofs import ALGORITHMS
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oauth.server import OAuthServer
from c42.unit_of_work import UnitOfWork

# The protocol's paths; `c42.web.oauth_endpoints` declares its routes with these.
METADATA_PATH = "/.well-known/oauth-authorization-server"  # RFC 8414 §3
# RFC 9728 §3: the API's resource identifier is the issuer (no path), so its metadata lives at
# the well-known path itself.
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
AUTHORIZATION_PATH = "/oauth2/authorize/"
TOKEN_PATH = "/oauth2/token/"
REVOCATION_PATH = "/oauth2/revoke/"
INTROSPECTION_PATH = "/oauth2/introspect/"
DOCUMENTATION_PATH = "/api/docs"
DEVICE_AUTHORIZATION_PATH = "/oauth2/device_authorization/"
PAR_PATH = "/oauth2/par/"

# The path of each Authlib endpoint by its ENDPOINT_NAME: registered, it is published as
# "<name>_endpoint" (RFC 8414 §2, RFC 8628 §4, RFC 9126 §5 follow that pattern).
ENDPOINT_PATHS = {
    "revocation": REVOCATION_PATH,
    "introspection": INTROSPECTION_PATH,
    "device_authorization": DEVICE_AUTHORIZATION_PATH,  # RFC 8628 §4
    "pushed_authorization_request": PAR_PATH,  # RFC 9126 §5
}
# RFC 8414 §2 names the client authentication methods of these endpoints.
_AUTH_METHODS_PUBLISHED = ("revocation", "introspection")


def authorization_server(config: OAuthConfig) -> dict[str, Any]:
    """RFC 8414 §2 metadata (plus RFC 9207 §3) of a server built with `config`."""
    server = _registrations(config)
    issuer = config.issuer
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZATION_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
    }
    for name in endpoint_names(server):
        metadata[f"{name}_endpoint"] = issuer + ENDPOINT_PATHS[name]
    metadata.update(
        {
            "scopes_supported": scopes.names(),
            "response_types_supported": response_types(server),
            "response_modes_supported": ["query"],  # RFC 6749 §4.1.2: the code grant's mode
            "grant_types_supported": grant_types(server),
            "token_endpoint_auth_methods_supported": token_endpoint_auth_methods(server),
        }
    )
    for name in endpoint_names(server):
        if name not in _AUTH_METHODS_PUBLISHED:
            continue
        metadata[f"{name}_endpoint_auth_methods_supported"] = endpoint_auth_methods(server, name)
    metadata.update(
        {
            "code_challenge_methods_supported": code_challenge_methods(server),
            "authorization_response_iss_parameter_supported": issuer_parameter(server),
            "service_documentation": issuer + DOCUMENTATION_PATH,
        }
    )
    algorithms = dpop_algorithms(server)
    if algorithms:
        metadata["dpop_signing_alg_values_supported"] = algorithms  # RFC 9449 §5.1
    if "pushed_authorization_request" in endpoint_names(server):
        # RFC 9126 §5: not for every app; an app flagged require_par is refused without it.
        metadata["require_pushed_authorization_requests"] = False
    return metadata


def protected_resource(config: OAuthConfig, *, query_tokens: bool) -> dict[str, Any]:
    """RFC 9728 §2 metadata of the API: the resource is served by this issuer, which is its
    only authorization server; `query_tokens` when the `access_token` parameter is honoured
    (RFC 6750 §2.3, GET only)."""
    issuer = config.issuer
    methods = ["header", "query"] if query_tokens else ["header"]
    document: dict[str, Any] = {
        "resource": issuer,
        "authorization_servers": [issuer],
        "scopes_supported": scopes.names(),
        "bearer_methods_supported": methods,
        "resource_documentation": issuer + DOCUMENTATION_PATH,
    }
    if config.dpop is not None:
        # RFC 9728 §2: the proof algorithms the API verifies; DPoP-bound tokens are accepted,
        # not required (Bearer tokens of apps that do not use DPoP work too).
        document["dpop_signing_alg_values_supported"] = list(ALGORITHMS)
        document["dpop_bound_access_tokens_required"] = False
    return document


def protected_resource_url(issuer: str) -> str:
    """RFC 9728 §5.1: the `resource_metadata` URL of the API's 401 challenges."""
    return issuer.rstrip("/") + PROTECTED_RESOURCE_PATH


# -- What the server registers (Authlib keeps it in its private registries; read only here) --


def _registrations(config: OAuthConfig) -> OAuthServer:
    # A server that serves no request, so it needs no unit of work: only its registrations.
    return OAuthServer(cast(UnitOfWork, None), config)


def grant_types(server: OAuthServer) -> list[str]:
    """RFC 8414 §2: the `grant_type` values the token endpoint dispatches."""
    return _unique(grant.GRANT_TYPE for grant, _ in server._token_grants)


def response_types(server: OAuthServer) -> list[str]:
    return _unique(
        response_type
        for grant, _ in server._authorization_grants
        for response_type in sorted(grant.RESPONSE_TYPES)
    )


def token_endpoint_auth_methods(server: OAuthServer) -> list[str]:
    """Methods some token grant accepts and the client-auth registry can check."""
    known = _client_auth_methods(server)
    return _unique(
        method
        for grant, _ in server._token_grants
        for method in grant.TOKEN_ENDPOINT_AUTH_METHODS
        if method in known
    )


def endpoint_auth_methods(server: OAuthServer, name: str) -> list[str]:
    known = _client_auth_methods(server)
    return _unique(
        method
        for endpoint in server._endpoints.get(name, ())
        for method in endpoint.CLIENT_AUTH_METHODS
        if method in known
    )


def code_challenge_methods(server: OAuthServer) -> list[str]:
    """RFC 7636 §4.3 methods of the PKCE extension registered with the grants."""
    return _unique(
        method
        for _, extensions in server._authorization_grants
        for extension in extensions or ()
        if isinstance(extension, CodeChallenge)
        for method in extension.SUPPORTED_CODE_CHALLENGE_METHOD
    )


def issuer_parameter(server: OAuthServer) -> bool:
    """RFC 9207 §3: whether the `iss` extension hooks the authorization responses."""
    hooks = server._hooks.get("after_create_authorization_response", ()) if server._hooks else ()
    return any(isinstance(getattr(hook, "__self__", None), IssuerParameter) for hook in hooks)


def dpop_algorithms(server: OAuthServer) -> list[str]:
    """RFC 9449 §5.1: the proof algorithms of the server's DPoP checker (none without one)."""
    return list(ALGORITHMS) if server.config.dpop is not None else []


def endpoint_names(server: OAuthServer) -> list[str]:
    """The registered endpoints besides authorization and token (each needs its path in
    ENDPOINT_PATHS: a KeyError in the metadata test otherwise)."""
    return [name for name, endpoints in server._endpoints.items() if endpoints]


def _client_auth_methods(server: OAuthServer) -> set[str]:
    registry = server._client_auth
    return set(registry._methods) if registry is not None else set()


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
