"""`C42_LOG_FORMAT=json` (SPEC §7): every log line a JSON object on one line.

Each line has `ts` (RFC 3339, UTC, milliseconds), `level`, `event`, `logger`, `pid` and
`request_id` (of the request being served, or null). A record logged with
`extra={"event": NAME, "fields": {...}}` adds its fields (the access log's `request` event:
`method`, `route`, `target`, `status`, `duration_ms`, `client_ip`, `user_id`, `client_id`,
`credential`); any other record adds its `message`, and `exception` when it carries one.

What a line may hold is decided before it gets here: c42 loggers escape their messages and
format exceptions without database errors' quoted values (c42.logs), the access log's target
is redacted (c42.redaction); the formatter applies the same exception rule to every logger's
records (uvicorn's too), and JSON encoding escapes every control character, so no value can
start a line of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from c42.logs import format_exception
from c42.ops import request_ids

FORMATS = ("text", "json")
REQUEST_EVENT = "request"
_RESERVED = frozenset({"ts", "level", "event", "logger", "pid"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "logger": record.name,
            "pid": record.process,
            "request_id": request_ids.current.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update((k, v) for k, v in fields.items() if k not in _RESERVED)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = record.exc_text or format_exception(record.exc_info[1])
        return orjson.dumps(entry, default=str).decode()


def rfc3339(created: float) -> str:
    """`2026-12-04T10:00:00.123Z` (RFC 3339 §5.6, UTC)."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def access_fields(
    scope: Mapping[str, Any], target: str, status: int, seconds: float
) -> dict[str, Any]:
    """The fields of one access-log line: the request, its answer and who made it (the API's
    authenticated caller, or the browser session's user)."""
    state: Mapping[str, Any] = scope.get("state") or {}
    subject = state.get("subject")  # c42.auth.subject.AuthSubject, set by the API's auth
    login = state.get("web_login")  # c42.web.session's live browser session
    if subject is not None:
        user_id, credential = subject.user_id, str(subject.kind)
        client_id = getattr(subject, "client_id", None) or state.get("client_id")
    elif login is not None:
        user_id, credential, client_id = login.user_id, "session", state.get("client_id")
    else:
        user_id, credential, client_id = None, None, state.get("client_id")
    route = scope.get("route")
    return {
        "request_id": state.get("request_id"),
        "method": scope["method"],
        "route": getattr(route, "path", None),
        "target": target,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "client_ip": (scope.get("client") or (None,))[0],
        "user_id": user_id,
        "client_id": client_id,
        "credential": credential,
    }


def uvicorn_log_config(config: dict[str, Any], log_format: str) -> dict[str, Any]:
    """uvicorn's logging configuration `config` with every formatter writing `log_format`."""
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": f"{__name__}.JsonFormatter"}
    return config
