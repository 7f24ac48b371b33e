"""The browser-facing part of the app: page routers, static files, session middleware,
rate limiters and the HTML renderers of page errors. `create_app` calls `install_web` once."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.staticfiles import StaticFiles

from c42 import errors, outage
from c42.ratelimit import RateLimited
from c42.settings import Settings
from c42.web.csrf import CSRFError
from c42.web.middleware import WebMiddleware
from c42.web.templating import STATIC_DIR, render_error_page


def web_routers() -> list[APIRouter]:
    """Every page router (all with include_in_schema=False); the OAuth endpoints first, as the
    hottest (see create_app)."""
    from c42.web.account_apps import router as account_apps
    from c42.web.account_security import router as account_security
    from c42.web.accounts import router as accounts
    from c42.web.admin import router as admin_router
    from c42.web.device import router as device
    from c42.web.oauth_endpoints import router as oauth
    from c42.web.oidc_endpoints import router as oidc
    from c42.web.password_reset import router as password_reset
    from c42.web.registration import router as registration
    from c42.web.start import router as start

    return [
        oauth,
        oidc,
        device,
        accounts,
        registration,
        password_reset,
        account_apps,
        account_security,
        admin_router(),
        start,
    ]


def install_web(app: FastAPI, settings: Settings) -> None:
    """/static/, page error handlers and the session middleware (create_app includes the
    routers and creates the rate limiters). Call it before the outer middleware is added, so
    the session wraps only the routes."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(CSRFError, _csrf_error)
    app.add_exception_handler(RateLimited, _rate_limited)
    for kind in outage.EXCEPTIONS:
        app.add_exception_handler(kind, _database_unavailable)
    app.add_middleware(WebMiddleware, settings=settings)


def wants_html(request: Request) -> bool:
    """A browser page request (not the API, not a program calling an OAuth endpoint)."""
    accept = request.headers.get("accept", "")
    return not request.url.path.startswith("/api/") and "text/html" in accept


async def _csrf_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CSRFError)
    if not wants_html(request):
        return errors.render(exc)
    back = form_page(request)
    return render_error_page(request, "Form expired", exc.message, 403, back_url=back)


def form_page(request: Request) -> str | None:
    """The page a refused form was most likely on: the nearest path at or above the form's
    action that answers GET (the action of a form is its page, or below it), never an
    /oauth2/ endpoint (its page needs the app's request, which we no longer have)."""
    path = request.url.path
    if path.startswith("/oauth2/"):
        return None
    while path:
        scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
        for route in request.app.router.routes:
            if isinstance(route, BaseRoute) and route.matches(scope)[0] is Match.FULL:
                return path
        path = path.rstrip("/").rpartition("/")[0] + "/" if path != "/" else ""
    return None


def not_found_page(request: Request) -> Response | None:
    """A browser asking for an unknown page gets an HTML 404 page (SPEC §8); the API and
    programs keep the JSON envelope (None)."""
    if not wants_html(request):
        return None
    message = "There is no page at this address. It may have moved, or the link is mistyped."
    return render_error_page(request, "Page not found", message, 404, back_url="/")


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """SPEC §7: a database outage is a 503 with Retry-After in the caller's format (c42.outage);
    any other database error goes on to the unexpected-error path (a 500)."""
    if not outage.is_database_unavailable(exc):
        raise exc
    outage.logged(exc)
    path = request.url.path
    if outage.is_oauth_json(path):
        return outage.oauth_response()
    if wants_html(request) or path.startswith("/oauth2/"):  # authorize: no URI to redirect to
        message = "C42 cannot reach its database right now. Try again in a moment."
        headers = {"Retry-After": outage.RETRY_AFTER}
        return render_error_page(request, "Temporarily unavailable", message, 503, headers)
    return outage.api_response()


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    if not wants_html(request):
        return errors.render(exc)
    return render_error_page(request, "Too many attempts", exc.message, 429, exc.headers)
