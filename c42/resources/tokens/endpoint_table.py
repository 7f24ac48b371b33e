"""The endpoints an Action Token grant may name: the app's real `/api/v2/` routes (SPEC §5.2).

Built once per app from its routes, nested included routers included, and used to validate
grants at creation, so a token can only list endpoints that exist, with methods they accept
and path parameters they have.

Enforcement (`c42.resources.deps.authenticated`) matches a request on the template of the
route that actually handled it (`scope["route"].path`). FastAPI keeps that template as written
on the route, while the served path also carries the prefixes of every `include_router`
around it; a route whose two differ could never match a grant, so it is not grantable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from starlette.routing import BaseRoute

from c42.auth.subject import Grant
from c42.errors import InvalidRequest

API_PREFIX = "/api/v2/"
# SPEC §5.2: an Action Token never creates, lists or revokes tokens of any kind.
TOKEN_ROUTE_PREFIXES = ("/api/v2/user-tokens/", "/api/v2/action-tokens/")
# HEAD is matched as GET; OPTIONS is never routed to an endpoint (405 before any credential is
# read), so neither can be granted on its own.
_NOT_GRANTABLE_METHODS = frozenset({"HEAD", "OPTIONS"})
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    route: str  # the template, e.g. /api/v2/events/{id}/
    methods: frozenset[str]
    params: frozenset[str]  # path parameter names


def walk(routes: Sequence[BaseRoute]) -> Iterator[tuple[str | None, set[str], Any]]:
    """(served path template, methods, the route object that handles it) for every route."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is not None:  # FastAPI with lazily resolved included routers
        for context in iter_contexts(routes):
            yield context.path, set(context.methods or ()), context.original_route
        return
    for route in routes:  # older FastAPI: include_router copies routes with their full path
        yield getattr(route, "path", None), set(getattr(route, "methods", None) or ()), route


def is_grantable_path(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(TOKEN_ROUTE_PREFIXES)


class EndpointTable:
    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

    @classmethod
    def from_routes(cls, routes: Sequence[BaseRoute]) -> EndpointTable:
        methods: dict[str, set[str]] = {}
        for path, route_methods, original in walk(routes):
            if path is None or not is_grantable_path(path):
                continue
            if getattr(original, "path", None) != path:
                continue  # enforcement would never see this template (module docstring)
            methods.setdefault(path, set()).update(route_methods - _NOT_GRANTABLE_METHODS)
        return cls(
            {
                path: Endpoint(path, frozenset(m), frozenset(_PATH_PARAM.findall(path)))
                for path, m in methods.items()
                if m
            }
        )

    def grant(self, index: int, method: str, route: str, params: Mapping[str, str]) -> Grant:
        """One grant from its parts, or a 400 naming the offending field."""
        where = f"grants.{index}"
        if not route.endswith("/"):
            route += "/"  # SPEC §4: paths work with and without the trailing slash
        if route.startswith(TOKEN_ROUTE_PREFIXES):
            raise _invalid(f"{where}.route", "Action Tokens can never reach token endpoints.")
        endpoint = self.endpoints.get(route)
        if endpoint is None:
            raise _invalid(
                f"{where}.route",
                f"Unknown route {route!r}: use a route template of the /api/v2/ API, "
                "such as /api/v2/events/{id}/.",
            )
        if method not in endpoint.methods:  # RFC 9110 §9.1: method names are case-sensitive
            allowed = ", ".join(sorted(endpoint.methods))
            raise _invalid(f"{where}.method", f"{route} accepts only {allowed}.")
        for name, value in params.items():
            if name not in endpoint.params:
                raise _invalid(f"{where}.params.{name}", f"{route} has no path parameter {name}.")
            if not _ID.fullmatch(value):
                raise _invalid(f"{where}.params.{name}", "Pinned values are 32-hex ids.")
        return Grant(method, route, tuple(sorted(params.items())))

    def grants(self, specs: Iterable[tuple[str, str, Mapping[str, str]]]) -> list[Grant]:
        result: list[Grant] = []
        for index, (method, route, params) in enumerate(specs):
            grant = self.grant(index, method, route, params)
            if grant not in result:
                result.append(grant)
        return result


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, fields={field: message})


def for_app(app: Any) -> EndpointTable:
    """The table of a running app, built on first use (the routes are final by then)."""
    table: EndpointTable | None = getattr(app.state, "action_token_endpoints", None)
    if table is None:
        table = EndpointTable.from_routes(app.router.routes)
        app.state.action_token_endpoints = table
    return table
