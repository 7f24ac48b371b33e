"""Pure ASGI middleware: path normalisation, body limits, security headers, redacted access log.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost to a few function calls.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from c42 import asgi_body, audit, outage
from c42.errors import (
    APIError,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_body,
)
from c42.logs import get_logger
from c42.ops import request_ids
from c42.ops.json_logs import REQUEST_EVENT, access_fields
from c42.ops.metrics import RequestRecorder
from c42.redaction import TargetRedactor
from c42.write_retry import WriteRetryMiddleware

access_log = get_logger("c42.access")
error_log = get_logger("c42")
API_PREFIX = "/api/v2/"
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class APIMiddleware:
    """For /api/v2/: one route per resource path with or without the trailing slash (no
    redirect), request bodies bounded in size, only JSON accepted as a body, and a write that
    lost a race to a concurrent one re-run (c42.write_retry)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.api = WriteRetryMiddleware(app)
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        outer = scope
        path: str = scope["path"]
        if not path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path + "/"
            scope["raw_path"] = scope.get("raw_path", path.encode()).split(b"?")[0] + b"/"
        if scope["method"].encode() in _BODY_METHODS:
            headers = dict(scope["headers"])
            problem = self._check_body_headers(headers)
            if problem is None and b"content-length" not in headers:
                # Chunked (no Content-Length): read the bounded body here, so that its size
                # and media type are checked like a sized one's, then hand it on.
                body, problem = await self._read_unsized(receive, headers)
                receive = asgi_body.replay(body, receive)
            if problem is not None:
                await send_error(send, *problem)
                return
            receive = bounded(receive, self.max_body)
        try:
            await self.api(scope, receive, send)
        finally:
            if scope is not outer and "route" in scope:
                outer["route"] = scope["route"]  # the routed template, for logs and metrics

    def _check_body_headers(self, headers: dict[bytes, bytes]) -> tuple[int, str, str] | None:
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return _answer(InvalidRequest("Invalid Content-Length."))
            if int(length) > self.max_body:
                return self._too_large()
        if length not in (None, b"0") and not _is_json(headers):
            return _UNSUPPORTED
        return None

    def _too_large(self) -> tuple[int, str, str]:
        return _answer(PayloadTooLarge(f"Bodies are limited to {self.max_body} bytes."))

    async def _read_unsized(
        self, receive: Receive, headers: dict[bytes, bytes]
    ) -> tuple[bytes, tuple[int, str, str] | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and not _is_json(headers):
            return b"", _UNSUPPORTED
        return body, None


class BodyTooLarge(Exception):
    pass


def bounded(receive: Receive, limit: int) -> Receive:
    """`receive`, raising BodyTooLarge once the body passes `limit` bytes (the outer
    HeadersAndLogMiddleware turns that into a 413)."""
    seen = 0

    async def bounded_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
        return message

    return bounded_receive


def _answer(error: APIError) -> tuple[int, str, str]:
    """The status, code and message of a typed error (c42.errors: one place for each)."""
    return error.status_code, error.code, error.message


_UNSUPPORTED = _answer(UnsupportedMediaType())


def _is_json(headers: dict[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json"


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = error_body(status, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HeadersAndLogMiddleware:
    """Adds security headers (and no-store where a response asked for it) and the request id
    (c42.ops.request_ids), counts the request in the metrics (c42.ops.metrics) and writes one
    redacted access-log line per request (c42.redaction; c42.logs escapes the line; its fields
    make the JSON line, c42.ops.json_logs). An unexpected error is logged here, once, through
    c42.logs, and answered with a 500: re-raised, it would reach the server, which logs the
    exception's raw text (uvicorn.error), where a database error quotes the values bound to its
    statement."""

    def __init__(self, app: ASGIApp, log: bool, redactor: TargetRedactor) -> None:
        self.app = app
        self.log = log
        self.redactor = redactor
        self.requests = RequestRecorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        state = scope.setdefault("state", {})  # shared with inner copies of the scope
        state["request_id"] = request_id = request_ids.from_headers(scope["headers"])
        request_ids.current.set(request_id)  # this request's task only
        audit.bind(scope)  # where audit records of this request come from (read on demand)
        request_id_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.extend(_SECURITY_HEADERS)
                headers.append(request_id_header)
                if state.get("no_store"):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))  # replaces, never doubles
                if state.get("dpop_nonce"):  # RFC 9449 §9: the next nonce (c42.resources.deps)
                    headers = [(k, v) for k, v in headers if k.lower() != b"dpop-nonce"]
                    headers.append((b"dpop-nonce", state["dpop_nonce"].encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BodyTooLarge:
            await send_error(send_wrapper, *_answer(PayloadTooLarge()))
        except Exception as exc:
            if status == 0 and outage.is_database_unavailable(exc):
                # SPEC §7: met outside the routes (whose handler answers it in its format).
                outage.logged(exc)
                await outage.json_response(scope["path"])(scope, receive, send_wrapper)
            else:
                error_log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
                if status == 0:  # nothing sent yet
                    await send_error(send_wrapper, 500, "server_error", "Internal server error.")
        finally:
            seconds = time.perf_counter() - started
            self.requests.record(scope.get("route"), scope["method"], status, seconds)
            if self.log and access_log.isEnabledFor(logging.INFO):
                target = self.redactor.target(scope["path"], scope.get("query_string", b""))
                access_log.info(
                    '%s "%s %s" %d %.1fms',
                    (scope.get("client") or ("-",))[0],
                    scope["method"],
                    target,
                    status,
                    seconds * 1000,
                    extra={
                        "event": REQUEST_EVENT,
                        "fields": access_fields(scope, target, status, seconds),
                    },
                )
