"""What a log line may show of a request target (SPEC §5.3, §6: no token, code, secret or
password in any log line).

Secrets are found by name, so a new one needs no listing:
- a query parameter whose name, decoded as the app decodes it (`parse_qsl`, like Starlette's
  `QueryParams`), is secret: `access%5Ftoken=` is `access_token=`;
- a path segment matched by a route parameter whose name is secret, e.g. the `{token}` of
  `/accounts/password-reset/{token}`, also when the path goes on past the route's end (a trailing
  slash), or matches no route at all but starts like one.
The target is rendered percent-encoded, so it holds no control character, space or quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qsl, quote

REDACTED = "[redacted]"
# A name holding one of these words, in any case, is secret (unless listed in NOT_SECRET).
SECRET_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "code",
    "verifier",
    "key",
    "signature",
    "assertion",
    "credential",
)
NOT_SECRET = frozenset(
    {
        "sync_token",  # a change cursor (an integer), SPEC §4
        "code_challenge",  # RFC 7636 §4.2: a one-way hash of the verifier, sent via the browser
        "code_challenge_method",
        "token_type_hint",  # RFC 7009 §2.1: a token type's name
    }
)
_ROUTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?\}")
_PATH_SAFE = "/:@!$&'()*+,;=[]"  # RFC 3986 pchar, and the brackets of [redacted]
_QUERY_SAFE = "/:@!$'()*,;[]"  # without the query's own delimiters & = + and %
# Targets made only of characters that need neither decoding nor quoting (the common case),
# which the access log then renders without parsing: a few microseconds per request saved.
_PLAIN_PATH = re.compile(r"[\w/.~:@!$&'()*+,;=\[\]-]*", re.ASCII)
_PLAIN_QUERY = re.compile(r"[\w/.~:@!$'()*,;\[\]&=-]*", re.ASCII)


@lru_cache(maxsize=1024)
def is_secret(name: str) -> bool:
    return name not in NOT_SECRET and _has_secret_word(name)


def _has_secret_word(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SECRET_WORDS)  # faster than one regex, measured


def secret_route_pattern(template: str) -> re.Pattern[str] | None:
    """A pattern whose groups are the secret segments of paths served by `template`, or None
    when the template has no secret parameter. It matches a prefix: up to the last secret."""
    parts: list[str] = []
    done = 0
    secret_end = 0
    for match in _ROUTE_PARAM.finditer(template):
        segment = ".+" if match.group(2) == "path" else "[^/]+"
        parts.append(re.escape(template[done : match.start()]))
        if is_secret(match.group(1)):
            parts.append(f"({segment})")
            secret_end = len(parts)
        else:
            parts.append(f"(?:{segment})")
        done = match.end()
    return re.compile("".join(parts[:secret_end])) if secret_end else None


class TargetRedactor:
    """Renders `path?query` for a log line, secrets replaced by [redacted]."""

    def __init__(self, route_templates: Iterable[str]) -> None:
        patterns = (secret_route_pattern(template) for template in set(route_templates))
        self._routes = [pattern for pattern in patterns if pattern is not None]
        # One match tells whether any secret route's pattern could match (most paths: none).
        self._any_route = re.compile("|".join(f"(?:{p.pattern})" for p in self._routes) or "(?!)")

    def target(self, path: str, query_string: bytes) -> str:
        if not query_string:
            return self.path(path)
        return self.path(path) + "?" + self.query(query_string.decode("latin-1"))

    def path(self, path: str) -> str:
        if not self._any_route.match(path):
            return path if _PLAIN_PATH.fullmatch(path) else _quote(path, _PATH_SAFE)
        spans = sorted(
            match.span(group)
            for pattern in self._routes
            if (match := pattern.match(path))
            for group in range(1, pattern.groups + 1)
        )
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            if end <= done:
                continue  # inside a span already redacted
            pieces += [_quote(path[done : max(start, done)], _PATH_SAFE), REDACTED]
            done = end
        pieces.append(_quote(path[done:], _PATH_SAFE))
        return "".join(pieces)

    @staticmethod
    def query(query: str) -> str:
        if _PLAIN_QUERY.fullmatch(query):  # no %, + or other character to decode or quote
            if not _has_secret_word(query):
                return query
            parts = [pair.partition("=") for pair in query.split("&") if pair]
            return "&".join(
                name + "=" + (REDACTED if is_secret(name) else value) for name, _, value in parts
            )
        pairs = parse_qsl(query, keep_blank_values=True)  # as the app reads it
        return "&".join(
            _quote(name, _QUERY_SAFE)
            + "="
            + (REDACTED if is_secret(name) else _quote(value, _QUERY_SAFE))
            for name, value in pairs
        )


def _quote(text: str, safe: str) -> str:
    return quote(text, safe=safe, errors="replace")
