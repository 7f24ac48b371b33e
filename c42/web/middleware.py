"""Pure ASGI middleware for the browser-facing paths: the signed session cookie and a bound on
request bodies. The API (/api/), the health check and static files skip both, so they never
pay for cookie parsing and signing; the OAuth machine endpoints skip the session.
"""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from c42.middleware import bounded
from c42.settings import Settings
from c42.web.session import COOKIE_NAME, MAX_AGE, derive_key

_SKIP = ("/api/", "/health", "/static/")
# Machine-to-machine endpoints (RFC 6749 §3.2, RFC 7009, RFC 7662, RFC 8414, OIDC Core
# §5.3 UserInfo, the JWKS): no cookies.
_NO_SESSION = (
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/oauth2/userinfo",
    "/oauth2/jwks",
    "/.well-known/",
)


class WebMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        https_issuer = settings.issuer.startswith("https://")
        self.with_session, self.with_secure_session = (
            SessionMiddleware(
                app,
                secret_key=derive_key(settings, "session"),
                session_cookie=COOKIE_NAME,
                max_age=MAX_AGE,
                same_site="lax",  # SPEC §6
                https_only=secure,  # SPEC §6: Secure when served over HTTPS
            )
            for secure in (https_issuer, True)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_SKIP):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            receive = bounded(receive, self.max_body)  # forms are small
        if scope["path"].startswith(_NO_SESSION):
            await self.app(scope, receive, send)
            return
        # "https": the connection, or a trusted proxy's X-Forwarded-Proto (c42 serve
        # --proxy-headers), whatever the issuer says.
        if scope.get("scheme") == "https":
            await self.with_secure_session(scope, receive, send)
        else:
            await self.with_session(scope, receive, send)
