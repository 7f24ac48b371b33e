"""Starlette's trailing-slash redirect, made after the console's guard (SPEC §8).

Starlette's router redirects `/admin` to `/admin/` (307) for anyone, before any handler runs:
that tells a stranger the console exists. The app turns the router's redirect off and answers
its 404s here instead: the same redirect (the other form of the path matches a route, same
method kept by 307), unless the path is the console's and the caller may not see it.
"""

from __future__ import annotations

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.routing import Match


def target(request: Request) -> str | None:
    """The URL with the trailing slash added (or removed) when that form has a route."""
    scope = request.scope
    path = scope["path"]
    if scope["type"] != "http" or path == "/":
        return None
    other = dict(scope)
    other["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
    for route in request.app.router.routes:
        match, _ = route.matches(other)
        if match is not Match.NONE:
            return str(URL(scope=other))
    return None
