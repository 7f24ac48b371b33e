"""`Allow` on a 405 lists every method of the path (RFC 9110 §15.5.6), not only those of the
first route that matched it: FastAPI registers GET and POST of one path as two routes, and
Starlette's 405 names the methods of one. Built from the app's routes on first use."""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.routing import BaseRoute, compile_path

from c42.resources.tokens.endpoint_table import walk


class AllowedMethods:
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = routes
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def of(self, path: str) -> list[str]:
        """Every method some route serves at `path`, sorted."""
        if self._table is None:
            self._table = [
                (compile_path(template)[0], frozenset(methods))
                for template, methods, _route in walk(self._routes)
                if template and methods
            ]
        found: set[str] = set()
        for pattern, methods in self._table:
            if pattern.match(path):
                found |= methods
        return sorted(found)
