"""A short-lived in-process cache of credential look-ups, keyed by digest.

Entries live at most `C42_TOKEN_CACHE_SECONDS` (default and maximum 1 s): the bound on how long
any process may honour a credential after it was revoked or its user deactivated. Evictions
(`c42.auth.evictions`) drop entries sooner: at once in the process that made the change, within
milliseconds in the others when Redis carries them.

Every eviction moves the cache to a new generation, and a look-up that started in an older one
is not stored: a look-up racing with a revocation may answer its own request with what it read,
but never keeps the old state for the requests after the eviction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_MAX_ENTRIES = 50_000


class TTLCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.generation = 0  # moved on by every eviction (see the module docstring)
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, value: T, generation: int) -> None:
        """Keep `value`, read by a look-up that started in `generation`, unless an eviction
        has happened since."""
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # bounded memory; a cold second costs one look-up per token
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def evict(self, key: str) -> None:
        self.generation += 1
        self._entries.pop(key, None)

    def evict_where(self, condition: Callable[[T], bool]) -> None:
        self.generation += 1
        for key, (_expiry, value) in list(self._entries.items()):
            if condition(value):
                self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
