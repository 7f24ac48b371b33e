"""The optional Redis (`C42_REDIS_URL`) and what happens while it is away (SPEC §7).

The users of Redis in a process (the rate limits, the credential-cache eviction bus) share one
`RedisLink` per URL (`shared`): a client with short timeouts and no retries, plus the outage
rule. On a Redis error the user falls back to its in-process behaviour, the link logs ONE
warning and counts as down for a short back-off, during which nobody waits on Redis again; the
first success after that logs one line saying Redis is back. So an outage costs a few failed
attempts per back-off, never a timeout per request and never a log line per request.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from c42.logs import get_logger

log = get_logger("c42.redis")
TIMEOUT_SECONDS = 0.5  # connect and command: Redis answers in well under a millisecond
RETRY_SECONDS = 2.0  # after a failure, Redis is tried again this much later


class RedisLink:
    def __init__(self, url: str, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        # Fail fast, the caller has an in-process fallback; one immediate retry, so that a
        # pooled connection from before a Redis restart costs no failure of its own.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
        )
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: up (or never failed)

    def usable(self) -> bool:
        """False during the back-off after a failure: use the in-process fallback."""
        down_until = self._down_until
        return down_until is None or time.monotonic() >= down_until

    def failed(self, exc: BaseException) -> None:
        """Redis did not answer: warn once per outage, back off."""
        with self._lock:
            first = self._down_until is None
            self._down_until = time.monotonic() + self.retry_seconds
        if first:
            log.warning(
                "Redis unavailable (%s): rate limits and cache evictions are in-process "
                "until it returns",
                type(exc).__name__,
            )

    def succeeded(self) -> None:
        if self._down_until is None:
            return  # the common case: one attribute read
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            log.info("Redis is back: rate limits and cache evictions are shared again")


def async_client(url: str) -> redis.asyncio.Redis:
    """A client for one event loop (its connections belong to that loop), with the sync
    client's timeouts and retry; its owner closes it (`aclose`) before the loop ends."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=redis.asyncio.retry.Retry(NoBackoff(), 1),
    )


@lru_cache
def shared(url: str) -> RedisLink:
    """This process's link to the Redis at `url` (one outage state, one warning)."""
    return RedisLink(url)
