"""A short-lived in-process cache of credential look-ups, keyed by digest.

Entries live at most `C42_TOKEN_CACHE_SECONDS` (default and maximum 1 s), so a token revoked
in any process — or a user deactivated — stops working on every worker within that time
without any cross-process messaging. A revocation in this process also evicts at once.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

T = TypeVar("T")
_MAX_ENTRIES = 50_000


class TTLCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, value: T) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # bounded memory; a cold second costs one look-up per token
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
