"""create_app(): settings, database, middleware, routers and the one error renderer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from c42 import errors, ratelimit, trailing_slash
from c42.allowed_methods import AllowedMethods
from c42.auth.authenticate import Authenticator
from c42.auth.evictions import EvictionBus
from c42.auth.oauth import apps
from c42.auth.oauth.config import OAuthConfig
from c42.auth.oauth.origins import RegisteredOrigins
from c42.auth.silent.authorize import SilentOAuth
from c42.cors import CORSMiddleware
from c42.db import Database
from c42.head_limits import HeadLimitsMiddleware
from c42.middleware import APIMiddleware, HeadersAndLogMiddleware
from c42.ops import exposition, health, pool_metrics, purge
from c42.redaction import TargetRedactor
from c42.resources import docs, openapi
from c42.resources.router import api_routers
from c42.resources.tokens.endpoint_table import walk
from c42.sandbox_merge import MergeAtConsent
from c42.settings import Settings, get_settings
from c42.web.admin import guard as admin_guard
from c42.web.router import install_web, not_found_page, web_routers


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_db = db is None
    db = db or Database(settings.database_url)
    app = FastAPI(
        title="C42 Platform API",
        version="2",
        openapi_url="/api/openapi.json",
        docs_url=None,  # c42.resources.docs: served without internet
        redoc_url=None,
        redirect_slashes=False,  # c42.trailing_slash: redirected after the console's guard
        lifespan=_lifespan(settings, db, owns_db),
    )
    app.state.settings = settings
    app.state.db = db
    # SPEC §7: revocations reach every process's caches (c42.auth.evictions).
    app.state.evictions = bus = EvictionBus(settings.redis_url)
    app.state.authenticator = Authenticator(db, settings.token_cache_seconds, bus)
    app.state.origins = RegisteredOrigins(_origins_loader(db), settings.token_cache_seconds)
    bus.listen(app.state.origins.on_eviction)
    # The authorization endpoint's extensions (SPEC §5.4), in the order they are consulted.
    extensions = (SilentOAuth(), MergeAtConsent())
    app.state.oauth_config = OAuthConfig.from_settings(settings, extensions)
    ratelimit.install(app.state, settings)  # SPEC §6: logins and the token endpoint

    # The benchmark's baseline (SPEC §6) and the liveness probe, first of all routes.
    app.add_api_route("/health", health.live, methods=["GET"], include_in_schema=False)

    # FastAPI tries routes in order, at a cost per route tried: the hottest paths first
    # (each list names its hottest router first: the events list, the token endpoint).
    api, web = api_routers(), web_routers()
    for router in [api[0], web[0], *api[1:], *web[1:]]:
        app.include_router(router)
    app.include_router(health.router)  # /health/live, /health/ready (SPEC §7)
    app.include_router(docs.router)  # /api/docs (SPEC §8)
    openapi.install(app, settings.issuer)  # /api/openapi.json: security, errors, no 422
    app.include_router(exposition.router)  # /metrics
    app.state.readiness = health.Readiness(db, settings.redis_url)
    pool_metrics.watch(db.engine)
    _install_error_handlers(app)
    install_web(app, settings)  # /static/, session (innermost: wraps only the routes)
    app.add_middleware(APIMiddleware, max_body_bytes=settings.max_body_bytes)
    # Outside the body checks, so that a page can read their 413/415 too.
    app.add_middleware(CORSMiddleware, origins=app.state.origins)
    app.add_middleware(HeadLimitsMiddleware)  # before any work, inside the access log
    # The access log redacts path segments of routes whose parameters are named like secrets.
    redactor = TargetRedactor(path for path, _methods, _route in walk(app.router.routes) if path)
    app.add_middleware(HeadersAndLogMiddleware, log=settings.access_log, redactor=redactor)
    return app


def _lifespan(
    settings: Settings, db: Database, owns_db: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.evictions.start()  # hears the evictions published by the other processes
        dpop = app.state.oauth_config.dpop
        if dpop is not None:
            dpop.replays.open_loop_client()  # RFC 9449 §11.1: jti SETs awaited on this loop
        async with purge.periodically(
            db,
            settings.purge_retention_days,
            settings.purge_interval,
            audit_retention_days=settings.audit_retention_days,
        ):
            yield
        app.state.evictions.stop()
        if dpop is not None:
            await dpop.replays.close_loop_client()
        db.close_reads()  # this event loop's hot-read connections (c42.pg_reads)
        if owns_db:
            db.dispose()  # SPEC §7: after the last request, close the pool

    return lifespan


def _origins_loader(db: Database) -> Callable[[], frozenset[str]]:
    def load() -> frozenset[str]:
        with db.session(write=False) as session:
            return apps.public_app_origins(session)

    return load


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.APIError)
    async def api_error(_request: Request, exc: errors.APIError) -> Response:
        return errors.render(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, str] = {}
        for problem in exc.errors():
            location = [str(part) for part in problem.get("loc", ()) if part not in ("body",)]
            fields[".".join(location) or "body"] = str(problem.get("msg", "invalid"))
        names = ", ".join(sorted(fields))
        return errors.render(errors.InvalidRequest(f"Invalid input: {names}.", fields=fields))

    allowed = AllowedMethods(app.router.routes)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405 and await admin_guard.hidden_from(request):
            exc = StarletteHTTPException(404)  # SPEC §8: no console for non-staff
        to = trailing_slash.target(request) if exc.status_code == 404 else None
        if to is not None and not await admin_guard.hidden_from(request):
            return RedirectResponse(to, status_code=307)
        if exc.status_code == 404 and (page := not_found_page(request)) is not None:
            return page  # SPEC §8: a browser gets a page
        codes = {404: errors.NotFound.code, 405: errors.MethodNotAllowed.code}
        code = codes.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "error")
        headers: dict[str, Any] = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110 §15.5.6: every method of the path
            headers["Allow"] = ", ".join(allowed.of(request.scope["path"]))
        return errors.error_response(exc.status_code, code, str(exc.detail), headers)
