"""Typed API errors and the one renderer of the C42 error envelope (SPEC §4)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class APIError(Exception):
    status_code = 400
    code = "invalid_request"
    message = "The request is invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.headers = headers or {}
        self.fields = fields
        super().__init__(self.message)


class InvalidRequest(APIError):
    status_code = 400


class Unauthorized(APIError):
    status_code = 401
    code = "invalid_token"
    message = "Authentication credentials are missing or invalid."


class Forbidden(APIError):
    status_code = 403
    code = "forbidden"
    message = "You may not perform this action."


class NotFound(APIError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class MethodNotAllowed(APIError):
    status_code = 405
    code = "method_not_allowed"
    message = "Method not allowed."


class PayloadTooLarge(APIError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(APIError):
    status_code = 415
    code = "unsupported_media_type"
    message = "The request body must be application/json."


class Conflict(APIError):
    status_code = 409
    code = "conflict"


class TooManyRequests(APIError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests; retry later."


def error_body(status_code: int, code: str, message: str, **extra: Any) -> bytes:
    error: dict[str, Any] = {"status_code": status_code, "code": code, "message": message}
    error.update(extra)
    return orjson.dumps({"error": error})


def error_response(
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    return Response(
        error_body(status_code, code, message, **extra),
        status_code=status_code,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def render(exc: APIError) -> Response:
    extra: dict[str, Any] = {"fields": exc.fields} if exc.fields else {}
    return error_response(exc.status_code, exc.code, exc.message, exc.headers, **extra)
