"""The API's routes as the tests enumerate them: read from the app (`app.routes`), never
written out by hand, so a new endpoint is in every route-driven test at once.

The app is built once, at collection, only to read its routes (it serves nothing and opens
no database connection).
"""

from __future__ import annotations

import re
from functools import cache

from c42.app import create_app
from c42.resources.tokens.endpoint_table import walk
from c42.settings import Settings

API_PREFIX = "/api/v2/"
_PARAM = re.compile(r"\{(\w+)\}")
_NOT_ENDPOINTS = frozenset({"HEAD", "OPTIONS"})  # answered by the framework for every route


@cache
def api_routes() -> tuple[tuple[str, str], ...]:
    """(METHOD, path template) of every /api/v2/ endpoint in the OpenAPI document, sorted."""
    app = create_app(Settings(database_url="sqlite://", secret_key="routes-only-" + "x" * 40))
    found = {
        (method, path)
        for path, methods, route in walk(app.router.routes)
        if path and path.startswith(API_PREFIX) and getattr(route, "include_in_schema", False)
        for method in methods - _NOT_ENDPOINTS
    }
    return tuple(sorted(found, key=lambda item: (item[1], item[0])))


def route_id(method: str, path: str) -> str:
    return f"{method}-{path}"


def concrete(path: str, value: str = "0" * 32) -> str:
    """The template with every path parameter set to `value` (an id that names nothing)."""
    return _PARAM.sub(value, path)
