"""Request ids (SPEC §7): the client's `X-Request-ID` when it is a plausible id, else a new one;
echoed as a response header and carried by every log line written while serving the request."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from contextvars import ContextVar

HEADER = b"x-request-id"  # ASGI header names are lowercase
MAX_LENGTH = 128
# What proxies and tracing systems send (UUIDs, hex, base64, AWS's Root=1-...-...): letters,
# digits and a few punctuation marks; nothing a log line or a header could be forged with.
_ACCEPTED = re.compile(rf"[A-Za-z0-9._:/+=-]{{1,{MAX_LENGTH}}}")

# The id of the request being served. Each request runs in a task of its own, which starts from
# a copy of its connection's context, so a value set for one request never reaches another;
# threadpool work started by the request (run_in_threadpool) inherits it.
current: ContextVar[str | None] = ContextVar("c42_request_id", default=None)


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The one `X-Request-ID` sent, when accepted; otherwise (none, several, too long, odd
    characters) a new id."""
    sent: list[bytes] = [value for name, value in headers if name == HEADER]
    if len(sent) == 1:
        text = sent[0].decode("latin-1")
        if _ACCEPTED.fullmatch(text):
            return text
    return new()


def new() -> str:
    # 128 random bits: unique across processes and hosts. Not a secret (it only ties log lines
    # together), so the random module's generator, at half the cost of os.urandom; it is
    # seeded per process, and again in a forked child.
    return f"{random.getrandbits(128):032x}"
