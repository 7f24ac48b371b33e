"""Where the samples of a py-spy profile went: collapsed stacks -> categories and key frames.

Each sample is one stack of one busy thread (py-spy leaves idle threads out), root first,
frames written `function (file:line)`; native frames (`--native`) name a library instead.
A sample belongs to the category of the frame nearest its leaf that any rule recognises:
native frames of the C runtime or the interpreter (malloc, Py_DECREF ...) are skipped, so
their cost lands on the Python code that caused it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")

WAITING = "waiting (not CPU: idle loop, GIL or lock waits)"
DATABASE = "database engine + driver (SQLite C, psycopg/libpq)"
UNKNOWN = "other / unattributed"

# (category, function regex or None, file regex). First match from the leaf wins; order
# matters only when two rules match the same frame.
RULES: list[tuple[str, str | None, str]] = [
    (
        WAITING,
        r"^(epoll_p?wait|take_gil|pthread_cond_(timed)?wait|sem_(timed)?wait|do_futex_wait"
        r"|__futex_abstimed_wait\w*|poll|select)$",
        r"",
    ),
    (
        WAITING,
        r"^(Condition\.wait|Event\.wait|(Simple)?Queue\.get|Thread\.join|_worker)$",
        r"^(threading|queue)\.py$|concurrent/futures",
    ),
    (
        "garbage collection",
        r"^(gc_collect\w*|collect|deduce_unreachable|move_unreachable)$",
        r"libpython|gcmodule",
    ),
    (
        DATABASE,
        None,
        r"libsqlite3|^cursor\.c$|^connection\.c$|^statement\.c$|^module\.c$|libpq|psycopg",
    ),
    ("serialisation (rows -> dicts -> JSON)", None, r"orjson|/serialize\.py$"),
    ("serialisation (rows -> dicts -> JSON)", r"^(envelope|one|fmt_dt)$", r"c42/resources/common"),
    ("auth (credential -> subject)", None, r"c42/auth/|c42/resources/auth\.py$"),
    ("auth (credential -> subject)", r"^authenticated$", r"c42/resources/deps\.py$"),
    (
        "c42 queries: build, bind, rows -> dicts",
        None,
        r"c42/(compiled|sqlfunctions)\.py$|c42/access/|c42/resources/\w+/repository\.py$",
    ),
    (
        "SQLAlchemy: statement build + compile",
        None,
        r"sqlalchemy/sql/|sqlalchemy/(ext/)?(compiler|cache_key|traversals)",
    ),
    ("SQLAlchemy: engine/session/pool + row processing", None, r"sqlalchemy/"),
    ("c42 endpoint + query-string parsing", None, r"c42/resources/"),
    ("c42 middleware + app", None, r"c42/(middleware|app|web/middleware|db)\.py$"),
    (
        "FastAPI dependency resolution + validation",
        None,
        r"fastapi/dependencies/|fastapi/_compat|pydantic|fastapi/params\.py$",
    ),
    (
        "threadpool hops (anyio, run_in_threadpool)",
        None,
        r"anyio/|starlette/concurrency\.py$|concurrent/futures|^threading\.py$|^queue\.py$",
    ),
    ("FastAPI/Starlette dispatch + middleware", None, r"^(fastapi|starlette)/"),
    (
        "uvicorn + event loop (httptools parsing, socket writes)",
        None,
        r"uvicorn/|httptools|^parser\.c$|uvloop|^loop\.c$|asyncio/|contextvars",
    ),
    ("logging", None, r"^logging/|opentelemetry|_logs/"),
    ("imports (lazy, first requests)", None, r"importlib|<frozen"),
]
# Without native frames, a DB-API call (C) shows as time spent in the Python line calling it.
_DRIVER_CALL = re.compile(r"(^|\.)(execute|executemany|fetchall|fetchone|fetchmany|do_execute)$")
_COMPILED = [
    (name, re.compile(func) if func else None, re.compile(file)) for name, func, file in RULES
]
_SKIP_NATIVE = re.compile(r"libc\.so|libpython|ld-linux|^\w+\.h$|^ceval|^object|^0x", re.I)

# Inclusive shares: the part of all busy samples that passes through these frames.
KEY_FRAMES: list[tuple[str, str, str]] = [
    ("authenticated() dependency", r"^authenticated$", r"c42/resources/deps\.py$"),
    ("endpoint list_events (all of it)", r"^list_events", r"c42/resources/events/endpoints"),
    ("  events list_page query", r"list_page$", r"c42/resources/events/repository"),
    ("  events calendar_ids query", r"calendar_ids$", r"c42/resources/events/repository"),
    ("  serialize.event", r"^event$", r"c42/resources/events/serialize"),
    ("  envelope (orjson.dumps)", r"^envelope$", r"c42/resources/common"),
    ("FastAPI solve_dependencies", r"^solve_dependencies$", r"fastapi/dependencies/"),
    ("run_in_threadpool / to_thread", r"(^|\.)(run_in_threadpool|run_sync)$", r"starlette|anyio"),
    ("SQLAlchemy compile", r"(^|\.)(compile|_compiler_dispatch)$", r"sqlalchemy/sql/"),
    ("SQLAlchemy Session / Connection execute", r"(^|\.)execute$", r"sqlalchemy/(orm|engine)/"),
    ("uvicorn send (socket writes)", r"(^|\.)send$", r"uvicorn/protocols/http"),
    ("logging calls", r".", r"^logging/"),
]


@dataclass(frozen=True, slots=True)
class Breakdown:
    busy: int  # samples that were CPU work
    waiting: int
    categories: list[tuple[str, int]]  # largest first
    key_frames: list[tuple[str, int]]
    top_leaves: list[tuple[str, int]]


def parse(lines: Iterable[str]) -> list[tuple[list[tuple[str, str]], int]]:
    samples = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for text in stack.split(";"):
            match = _FRAME.match(text)
            if match is None:
                frames.append((text, ""))
                continue
            file, _, line = match["file"].rpartition(":")  # "c42/db.py:42" -> "c42/db.py"
            frames.append((match["func"], file if line.isdigit() else match["file"]))
        samples.append((frames, int(count)))
    return samples


def categorise(frames: list[tuple[str, str]]) -> str:
    leaf_func, leaf_file = frames[-1]
    if leaf_file.endswith(".py") and _DRIVER_CALL.search(leaf_func):
        return DATABASE
    for func, file in reversed(frames):
        for name, func_rule, file_rule in _COMPILED:
            if func_rule is not None and not func_rule.search(func):
                continue
            if file_rule.pattern and not file_rule.search(file):
                continue
            return name
    return UNKNOWN  # frames no rule knows (libc, copy.py ...) pass their cost up the stack


def breakdown(lines: Iterable[str]) -> Breakdown:
    categories: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    key_rules = [(label, re.compile(f), re.compile(p)) for label, f, p in KEY_FRAMES]
    for frames, count in parse(lines):
        category = categorise(frames)
        categories[category] += count
        if category == WAITING:
            continue
        leaves[_leaf(frames)] += count
        for label, func_rule, file_rule in key_rules:
            if any(func_rule.search(f) and file_rule.search(p) for f, p in frames):
                keys[label] += count
    waiting = categories.pop(WAITING, 0)
    return Breakdown(
        busy=sum(categories.values()),
        waiting=waiting,
        categories=categories.most_common(),
        key_frames=[(label, keys[label]) for label, _, _ in KEY_FRAMES],
        top_leaves=leaves.most_common(15),
    )


def _leaf(frames: list[tuple[str, str]]) -> str:
    """The innermost frame worth naming (Python code, or a named native library)."""
    for func, file in reversed(frames):
        if not (_SKIP_NATIVE.search(file) or func.startswith("0x")):
            return f"{func} ({file})"  # (line numbers are dropped by `parse`)
    func, file = frames[-1]
    return f"{func} ({file})"
