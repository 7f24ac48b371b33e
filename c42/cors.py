"""CORS for client-side apps (SPEC §5.3): the resource API and the token, revocation and
UserInfo endpoints answer the origins registered by public apps — exactly that origin, never
`*`, never with credentials (the app sends a Bearer token, not cookies).

The discovery documents and the JWKS are public (no user data, never a credential): any page
may read them (`*`, GET only, no credentials), as a single-page relying party of any origin
must before it can even start a sign-in (OIDC Discovery §4, RFC 8414 §3, RFC 7517 §5).

Pure ASGI, like `c42.middleware`: a request without `Origin` passes through untouched, so the
API's hot path pays one header scan. Preflights are answered here, before routing, from the
cached set of registered origins (no database query while the set is fresh). Which token a
foreign origin may present is decided where every credential is, in `c42.auth.authenticate`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from c42.auth.oauth.metadata import METADATA_PATH
from c42.auth.oauth.origins import RegisteredOrigins, header_origin
from c42.auth.oidc.discovery import CONFIGURATION_PATH, JWKS_PATH, USERINFO_PATH

API_PREFIX = "/api/v2/"
# The browser-facing OAuth endpoints; their actual responses are made readable per client in
# c42.web.oauth_endpoints (a token response only for the origins of the client's own app).
OAUTH_PATHS = frozenset({"/oauth2/token/", "/oauth2/token", "/oauth2/revoke/", "/oauth2/revoke"})
# UserInfo's actual response is made readable in c42.web.oidc_endpoints, only for an origin
# of the token's own app (the rule of c42.auth.authenticate.check_origin).
USERINFO_PATHS = frozenset({USERINFO_PATH, USERINFO_PATH.rstrip("/")})
PUBLIC_PATHS = frozenset({CONFIGURATION_PATH, METADATA_PATH, JWKS_PATH, JWKS_PATH.rstrip("/")})
MAX_AGE = b"600"  # seconds a browser may keep a preflight answer (Chromium caps it at 7200)
# Readable by a page's code; RFC 9449 §8, §9: DPoP-Nonce, the nonce a DPoP client must use.
EXPOSED = b"WWW-Authenticate, Retry-After, Location, X-Request-ID, DPoP-Nonce"
_API_METHODS = b"GET, POST, PUT, PATCH, DELETE"
_API_HEADERS = b"Authorization, Content-Type, DPoP"  # RFC 9449 §7.1: the proof beside the token
_OAUTH_METHODS = b"POST"
# Basic for client authentication, a form body, and (RFC 9449 §5) a DPoP proof for the token.
_OAUTH_HEADERS = b"Authorization, Content-Type, DPoP"
_USERINFO_METHODS = b"GET, POST"  # OIDC Core §5.3.1; the token in the header or the form body
_PUBLIC = (b"access-control-allow-origin", b"*")
_VARY = (b"vary", b"Origin")


def allow_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """The headers of an actual response that `origin` may read (one origin, never `*`)."""
    return [
        (b"access-control-allow-origin", origin.encode("ascii")),
        (b"access-control-expose-headers", EXPOSED),
    ]


def request_origin(scope: Scope) -> str | None:
    """The raw `Origin` header of a request, if any."""
    value = _header(scope, b"origin")
    return None if value is None else value.decode("latin-1")


def own_origins(scope: Scope, issuer: str) -> tuple[str | None, str | None]:
    """This server's origins: the issuer's and the one the request itself was sent to (the
    browser sets `Host`; a page of ours, e.g. /api/docs, may be served under either)."""
    host = _header(scope, b"host")
    here = f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}" if host else None
    parts = urlsplit(issuer)
    return header_origin(f"{parts.scheme}://{parts.netloc}"), header_origin(here)


def foreign_origin(scope: Scope, issuer: str) -> str | None:
    """The normal form of the request's `Origin` when it is another site's ("null" for an
    opaque or malformed origin), or None for a request with no `Origin` or from our own."""
    raw = request_origin(scope)
    if raw is None:
        return None
    origin = header_origin(raw)
    if origin is None:
        return "null"
    return None if origin in own_origins(scope, issuer) else origin


class CORSMiddleware:
    def __init__(self, app: ASGIApp, origins: RegisteredOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_api = path.startswith(API_PREFIX)
        if not is_api and path not in OAUTH_PATHS | USERINFO_PATHS | PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        raw = request_origin(scope)
        if raw is None:
            await self.app(scope, receive, send)
            return
        is_preflight = scope["method"] == "OPTIONS"
        if is_preflight and not _header(scope, b"access-control-request-method"):
            is_preflight = False
        if path in PUBLIC_PATHS:
            await self._public(scope, receive, send, is_preflight)
            return
        origin = header_origin(raw)
        allowed = origin is not None and origin in await self._registered()
        if is_preflight:
            methods = _API_METHODS if is_api else _OAUTH_METHODS
            if path in USERINFO_PATHS:
                methods = _USERINFO_METHODS
            await _preflight(send, origin if allowed else None, methods, is_api)
            return
        if not is_api:
            await self.app(scope, receive, send)  # the endpoint decides per client
            return
        extra = [_VARY, *allow_headers(origin)] if allowed and origin else [_VARY]
        await self.app(scope, receive, _adding(send, extra))

    async def _public(self, scope: Scope, receive: Receive, send: Send, preflight: bool) -> None:
        """A public document: readable by every origin, without credentials, GET only."""
        if not preflight:
            await self.app(scope, receive, _adding(send, [_PUBLIC]))
            return
        headers = [
            (b"content-length", b"0"),
            _PUBLIC,
            (b"access-control-allow-methods", b"GET"),
            (b"access-control-max-age", MAX_AGE),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _registered(self) -> frozenset[str]:
        origins = self.origins.fresh()
        if origins is None:
            origins = await run_in_threadpool(self.origins.reload)
        return origins


async def _preflight(send: Send, origin: str | None, methods: bytes, is_api: bool) -> None:
    """Fetch standard §3.2.3: a preflight answer; without CORS headers for an origin that no
    public app registered, so the browser refuses the actual request."""
    headers = [_VARY, (b"content-length", b"0")]
    if origin is not None:
        headers += [
            (b"access-control-allow-origin", origin.encode("ascii")),
            (b"access-control-allow-methods", methods),
            (b"access-control-allow-headers", _API_HEADERS if is_api else _OAUTH_HEADERS),
            (b"access-control-max-age", MAX_AGE),
        ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _adding(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            # RFC 9110 §12.5.5: several Vary fields combine, so one more never hides another.
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_cors
