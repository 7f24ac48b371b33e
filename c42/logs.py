"""Every c42 logger, and what its records may carry (SPEC §6: no token, code, secret or password
in any log line, and no line that a request can forge).

`get_logger` is the only way a module of c42 takes a logger: it attaches `SafeRecords`, which
runs before any handler sees a record and
- escapes control characters in the message, after %-formatting, so every argument is covered
  (paths, e-mail addresses, names, exception summaries): no value can start a line of its own
  or drive a terminal;
- formats a logged exception with `format_exception`, which leaves out a database error's
  message: drivers quote the values bound to a statement in it (PostgreSQL's
  `Key (email)=(ann@example.com) already exists`), as does SQLAlchemy (`[parameters: ...]`).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import traceback

import psycopg
from sqlalchemy.exc import StatementError

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the backslash itself,
# so that an escaped line reads back unambiguously.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\\\\\u2028\u2029]")
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` on one line: control characters as \\xNN (\\uNNNN for U+2028/2029), \\ as \\\\."""
    return _UNSAFE.sub(_escaped, text)


def describe(exc: BaseException) -> str:
    """What a log may say of `exc`: its message, escaped; for a database error, only codes."""
    if isinstance(exc, StatementError | psycopg.Error | sqlite3.Error):
        codes = [f"{name}={value}" for name, value in _database_codes(exc) if value]
        return " ".join(["[message hidden: it can quote bound values]", *codes])
    try:
        return escape(str(exc))
    except Exception:  # a broken __str__ must not lose the traceback
        return "[message could not be read]"


def _database_codes(exc: BaseException) -> list[tuple[str, object]]:
    if isinstance(exc, psycopg.Error) and exc.diag is not None:
        diag = exc.diag
        return [
            ("sqlstate", diag.sqlstate),
            ("constraint", diag.constraint_name),
            ("table", diag.table_name),
            ("column", diag.column_name),
        ]
    if isinstance(exc, sqlite3.Error):
        return [("sqlite", getattr(exc, "sqlite_errorname", None))]
    return []


def format_exception(exc: BaseException) -> str:
    """The traceback `traceback.format_exception` prints (causes, contexts, groups), with
    every exception's message replaced by `describe`'s."""
    return "".join(_exception_lines(exc, set())).rstrip("\n")


def _exception_lines(exc: BaseException, seen: set[int]) -> list[str]:
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += [*_exception_lines(cause, seen), _CAUSE]
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += [*_exception_lines(context, seen), _CONTEXT]
    if exc.__traceback__ is not None:
        lines += ["Traceback (most recent call last):\n", *traceback.format_tb(exc.__traceback__)]
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    message = describe(exc)
    lines.append(f"{name}: {message}\n" if message else f"{name}\n")
    if isinstance(exc, BaseExceptionGroup):
        for number, member in enumerate(exc.exceptions, 1):
            lines.append(f"+---------------- {number} ----------------\n")
            member_text = "".join(_exception_lines(member, seen))
            lines += ["    " + line for line in member_text.splitlines(keepends=True)]
    return lines


class SafeRecords(logging.Filter):
    """Makes a record safe to format, whatever handler and formatter the deployment uses."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: drop them
            message = f"{record.msg} [arguments do not fit the message]"
        record.msg = escape(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = format_exception(record.exc_info[1])  # formatters print this
        return True


_SAFE_RECORDS = SafeRecords()


def get_logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)` with `SafeRecords` attached (once)."""
    logger = logging.getLogger(name)
    if _SAFE_RECORDS not in logger.filters:
        logger.addFilter(_SAFE_RECORDS)
    return logger
