"""The OpenAPI document of the API (`/api/openapi.json`, SPEC §4, §8), told from the routes.

FastAPI writes the paths, parameters and request bodies. This module adds what it cannot
know and takes out what is not true:

- the security schemes `Token`, `ActionToken`, `Bearer` (OAuth 2.0 authorization code with
  PKCE: our authorization and token URLs, the service scopes of `c42.auth.scopes`) and `DPoP`
  (the same OAuth tokens bound to a key, RFC 9449: an HTTP scheme with a proof), and each
  operation's security, read from the dependency the endpoint declares (`resources/auth.py`);
- each operation's success schema (the C42 envelope) and the errors it really gives, each
  with the error envelope (`c42.errors`); FastAPI's 422 goes: the API answers 400;
- an operation id and a description for every operation.

Which errors an operation gives follows from what it is: 400 always (input); 401 and 403
when a credential is needed (missing or refused; scope, Action Token grant or relationship);
404 with a path id or a body naming other objects; 413 and 415 with a body. The few
operations with more say so in `_MORE_ERRORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from c42.auth import scopes
from c42.resources.auth import Reader, TokenOwner, Writer
from c42.resources.tokens.endpoint_table import walk

API_PREFIX = "/api/"
ENVELOPE = "Envelope"
ERROR_ENVELOPE = "ErrorEnvelope"

_ERROR_TEXT = {
    400: "Invalid input: a parameter or field is missing, unknown or out of range "
    "(`invalid_request`, `fields` names them).",
    401: "No credential, or one that is unknown, expired, revoked or of an inactive user.",
    403: "The credential may not do this: a missing OAuth scope (`insufficient_scope`), an "
    "Action Token outside its grants (`endpoint_not_allowed`), or a relationship that allows "
    "reading but not this change.",
    404: "No such object, or one the caller may not see (`not_found`).",
    409: "It exists already (`already_exists`).",
    413: "The request body is too large.",
    415: "The request body is not `application/json`.",
    429: "Too many attempts: retry after `Retry-After` seconds.",
}

# Operations with errors beyond the rules of the module docstring.
_MORE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    # SPEC §5.1: wrong e-mail or password is 401; the login limit is 429.
    ("post", "/api/v2/user-tokens/"): (401, 429),
    ("post", "/api/v2/event-subscriptions/"): (409,),
    ("post", "/api/v2/calendar-subscriptions/"): (409,),
}


def _dependency(alias: Any) -> Callable[..., Any]:
    """The callable behind an `Annotated[..., Depends(f)]` alias of resources/auth.py."""
    call: Callable[..., Any] = get_args(alias)[1].dependency
    return call


_READ, _WRITE, _OWN = _dependency(Reader), _dependency(Writer), _dependency(TokenOwner)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def security_of(route: APIRoute) -> list[dict[str, list[str]]]:
    """Who may call the route, as OpenAPI security requirements ([] for anyone)."""
    calls = set(_calls(route.dependant))
    if _OWN in calls:
        return [{"Token": []}]  # SPEC §5.2: tokens are managed with a User Token only
    if _WRITE in calls:
        return _any_credential(scopes.SERVICE_WRITE)
    if _READ in calls:
        return _any_credential(scopes.SERVICE_READ)
    return []


def _any_credential(scope: str) -> list[dict[str, list[str]]]:
    # OpenAPI 3.1 §4.8.30: an http scheme's list holds no OAuth scopes; the same scope holds.
    return [{"Token": []}, {"ActionToken": []}, {"Bearer": [scope]}, {"DPoP": []}]


def _security_schemes(issuer: str) -> dict[str, Any]:
    service = {
        name: (scope.description.replace("{service}", "the app's service"))
        for name in sorted(scopes.service_scopes())
        if (scope := scopes.get(name)) is not None
    }
    return {
        "Token": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A User Token (SPEC §5.1), a server credential: "
            "`Authorization: Token <40 hex>`. In *Authorize*, enter `Token ` and the token.",
        },
        "ActionToken": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An Action Token (SPEC §5.2), limited to the endpoints it was "
            "granted: `Authorization: ActionToken <40 hex>`. In *Authorize*, enter "
            "`ActionToken ` and the token.",
        },
        "Bearer": {
            "type": "oauth2",
            "description": "An OAuth 2.0 access token of an app (RFC 6749 §4.1 authorization "
            "code; PKCE with S256, RFC 7636, required of public apps): "
            "`Authorization: Bearer <token>`.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{issuer}/oauth2/authorize/",
                    "tokenUrl": f"{issuer}/oauth2/token/",
                    "refreshUrl": f"{issuer}/oauth2/token/",
                    "scopes": service,
                }
            },
        },
        "DPoP": {
            "type": "http",
            "scheme": "DPoP",  # RFC 9449 §7.1, in the IANA HTTP authentication scheme registry
            "description": "An OAuth 2.0 access token bound to the app's key (RFC 9449, "
            "`token_type` DPoP, obtained as for `Bearer` with a DPoP proof at the token "
            "endpoint): `Authorization: DPoP <token>` and a `DPoP` header with a new proof "
            "for each request (`htm`, `htu`, `iat`, `jti`, `ath`). Same scopes as `Bearer`.",
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        ENVELOPE: {
            "type": "object",
            "description": "SPEC §4: the objects (one for a single object) and the page.",
            "required": ["data", "meta_data"],
            "properties": {
                "data": {"type": "array", "items": {"type": "object"}},
                "meta_data": {
                    "type": "object",
                    "required": ["count", "offset", "sync_token"],
                    "properties": {
                        "count": {"type": "integer", "minimum": 0},
                        "offset": {"type": "integer", "minimum": 0},
                        "sync_token": {"type": "integer"},
                    },
                },
            },
        },
        ERROR_ENVELOPE: {
            "type": "object",
            "description": "SPEC §4: every error of the API.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status_code", "code", "message"],
                    "properties": {
                        "status_code": {"type": "integer", "minimum": 400, "maximum": 599},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            },
        },
    }


def _json_of(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _errors_of(method: str, path: str, operation: dict[str, Any], secured: bool) -> list[int]:
    codes = {400, *_MORE_ERRORS.get((method, path), ())}
    if secured:
        codes |= {401, 403}
    has_body = "requestBody" in operation
    if "{" in path or (has_body and secured):  # a path id; a body naming other objects
        codes.add(404)
    if has_body:
        codes |= {413, 415}
    return sorted(codes)


def _who(security: list[dict[str, list[str]]]) -> str:
    if not security:
        return "Anyone may call this (no credential)."
    if security == [{"Token": []}]:
        return "Needs the user's own User Token (not an Action Token or OAuth token)."
    scope = next(need["Bearer"][0] for need in security if "Bearer" in need)
    return (
        f"Needs a User Token, an Action Token granted this endpoint, or an OAuth token with "
        f"the `{scope}` scope (Bearer or DPoP-bound)."
    )


def _describe(route: APIRoute, method: str, path: str, operation: dict[str, Any]) -> None:
    security = security_of(route)
    operation["operationId"] = route.name
    operation["security"] = security
    description = (route.description or "").strip()
    operation["description"] = f"{description}\n\n{_who(security)}".strip()
    responses: dict[str, Any] = {}
    for status, answer in operation.get("responses", {}).items():
        if status == "422":
            continue  # FastAPI's validation error: the API answers 400 instead
        if status.startswith("2") and status != "204":
            answer = {"description": answer.get("description", "OK"), "content": {}}
            answer["content"] = _json_of(ENVELOPE)
        responses[status] = answer
    for code in _errors_of(method, path, operation, bool(security)):
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": _json_of(ERROR_ENVELOPE),
        }
    operation["responses"] = responses


def build(app: FastAPI, issuer: str) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description="The C42 Platform's planning API (SPEC §4). Every answer is JSON: the "
        "envelope `{data, meta_data}` on success, `{error: {status_code, code, message}}` on "
        "failure. OAuth 2.0 endpoints are described by `/.well-known/oauth-authorization-server`.",
        routes=app.routes,
    )
    routes = {
        (path, method.lower()): route
        for path, methods, route in walk(app.router.routes)
        if isinstance(route, APIRoute)
        for method in methods
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _describe(routes[path, method], method, path, operation)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(_schemas())
    components["securitySchemes"] = _security_schemes(issuer.rstrip("/"))
    return document


def install(app: FastAPI, issuer: str) -> None:
    """Serve the document built here (once, on first request) at `app.openapi_url`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, issuer)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI: replace the method
