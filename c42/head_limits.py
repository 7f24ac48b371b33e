"""Bounds on the request head, checked before any other work (SPEC §6).

uvicorn's httptools parser (what `c42 serve` and the tests run) bounds neither a header nor
the whole head, and refuses a request-target only past 65,535 bytes (llhttp's URL parser);
h11 (`--http h11`) answers 400 for a head over 16 KiB (`h11_max_incomplete_event_size`). So
the application refuses, in the error envelope, before routing, sessions, credentials or
bodies are looked at (the connection stays open: the server drains an unread body, where
closing would reset a client still sending it):

- a request-target (path and query, as sent) over 8 KiB: 414 `uri_too_long` (RFC 9110
  §15.5.15; RFC 9112 §3 asks for at least 8,000 octets of request line);
- a header field over 8 KiB (name and value), more than 100 of them, or over 32 KiB in all:
  431 `request_header_fields_too_large` (RFC 6585 §5).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from c42.middleware import send_error

MAX_TARGET_BYTES = 8 * 1024
MAX_FIELD_BYTES = 8 * 1024
MAX_FIELDS = 100
MAX_HEADER_BYTES = 32 * 1024

_URI_TOO_LONG = (
    414,
    "uri_too_long",
    f"The request path and query are limited to {MAX_TARGET_BYTES} bytes.",
)
_HEADERS_TOO_LARGE = (
    431,
    "request_header_fields_too_large",
    f"Request headers are limited to {MAX_FIELDS} fields, {MAX_FIELD_BYTES} bytes each and "
    f"{MAX_HEADER_BYTES} bytes in all.",
)


class HeadLimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                await send_error(send, *refusal)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> tuple[int, str, str] | None:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) + (len(query) + 1 if query else 0) > MAX_TARGET_BYTES:
        return _URI_TOO_LONG
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    if len(headers) > MAX_FIELDS:
        return _HEADERS_TOO_LARGE
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        total += size
        if size > MAX_FIELD_BYTES or total > MAX_HEADER_BYTES:
            return _HEADERS_TOO_LARGE
    return None
