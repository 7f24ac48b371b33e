"""`/api/docs`: Swagger UI on the OpenAPI document, every file served by the app (SPEC §8: it
works with no internet). Swagger UI 5's script and style come from the pinned
`fastapi-offline` package (Swagger UI is Apache-2.0 licensed; the package MIT); the page's
own script is a file of ours, so the page's CSP allows scripts from this origin only."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from starlette.responses import FileResponse, HTMLResponse, Response

router = APIRouter(prefix="/api/docs", include_in_schema=False)
_ASSETS = Path(fastapi_offline.__file__).parent / "static"
_FILES = {  # only these files of the package: no directory listing, no path tricks
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_CACHE = "public, max-age=86400"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>C42 Platform API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
<link rel="icon" href="/api/docs/static/favicon.png">
</head>
<body>
<noscript><p>The interactive docs need JavaScript. The document:
<a href="/api/openapi.json">/api/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/start.js"></script>
</body>
</html>
"""
# The OAuth flow of the Bearer scheme uses PKCE (RFC 7636) with the client_id typed in.
_START = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  oauth2RedirectUrl: window.location.origin + "/api/docs/oauth2-redirect",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
window.ui.initOAuth({usePkceWithAuthorizationCodeGrant: true});
"""


@router.get("")
@router.get("/")
def docs_page() -> Response:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _CSP})


@router.get("/start.js")
def start_script() -> Response:
    return Response(_START, media_type="text/javascript; charset=utf-8")


@router.get("/oauth2-redirect")
def oauth2_redirect() -> Response:
    """Where the authorization server sends the browser back to Swagger UI (FastAPI's page)."""
    return get_swagger_ui_oauth2_redirect_html()


def _asset(name: str, media_type: str) -> None:
    def serve() -> Response:
        return FileResponse(
            _ASSETS / name, media_type=media_type, headers={"Cache-Control": _CACHE}
        )

    router.add_api_route(f"/static/{name}", serve, methods=["GET"], name=f"docs-{name}")


for _name, _media_type in _FILES.items():
    _asset(_name, _media_type)
