"""Fixed-window rate limits per client IP and per account key (SPEC §6: login and token
endpoints are rate limited).

Counters live in this process by default; with `C42_REDIS_URL` they are shared by every
process through Redis (`INCR` + `EXPIRE` in one pipeline per window key). When Redis cannot
be reached the limiter counts in-process (SPEC §7: one warning per outage, Redis tried again
after a short back-off, `c42.redis_link`), so an outage of the optional Redis weakens the limit
to per-process instead of refusing every login or slowing every request.

Account keys (e-mail addresses, client ids) are hashed before they become counter names, so
neither Redis nor a memory dump lists who tried to log in.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Any

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from c42 import accounts, audit, redis_link
from c42.db import Database
from c42.emails import InvalidEmail
from c42.errors import TooManyRequests
from c42.ops import metrics
from c42.redis_link import RedisLink
from c42.settings import Settings

_MAX_MEMORY_KEYS = 50_000


class RateLimited(TooManyRequests):
    """429 with `Retry-After` (RFC 6585 §4)."""

    lockout_started = False  # the first refusal of its window (audited once, SPEC §8)


def parse_rate(text: str) -> tuple[int, int]:
    """`"10/60"` -> (10 attempts, 60 seconds)."""
    count, _, seconds = text.partition("/")
    limit, window = int(count), int(seconds or "60")
    if limit < 1 or window < 1:
        raise ValueError(f"invalid rate {text!r}: expected ATTEMPTS/SECONDS, both positive")
    return limit, window


def client_ip(request: Request) -> str:
    # Forwarded headers are not read here: behind a proxy, `c42 serve --proxy-headers
    # --forwarded-allow-ips=<proxy>` makes the forwarded address the client of the request.
    return request.client.host if request.client else "unknown"


class RateLimiter:
    def __init__(
        self,
        name: str,
        limit: int,
        window_seconds: int,
        redis_url: str | None = None,
        *,
        prefix: str = "c42:rl",
    ) -> None:
        self.name = name
        self.limit = limit
        self.window = window_seconds
        self.prefix = prefix
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._redis = redis_link.shared(redis_url) if redis_url else None

    @classmethod
    def from_setting(cls, name: str, rate: str, redis_url: str | None, **kw: Any) -> RateLimiter:
        limit, window = parse_rate(rate)
        return cls(name, limit, window, redis_url, **kw)

    def hit_or_raise(self, request: Request, key: str | None = None) -> None:
        """Count one attempt for the client's IP and, when given, for `key` (an account
        e-mail or a client_id); raise RateLimited when either is over its limit."""
        buckets = ["ip:" + client_ip(request)]
        if key:
            normal = key.strip().lower().encode("utf-8", "replace")
            buckets.append("key:" + hashlib.sha256(normal).hexdigest()[:32])
        retry_after, first = self._hit(buckets)
        if retry_after is not None:
            metrics.rate_limit_refused(self.name)
            refusal = RateLimited(
                "Too many attempts; retry later.", headers={"Retry-After": str(retry_after)}
            )
            refusal.lockout_started = first
            raise refusal

    def hit_or_raise_audited(self, request: Request, key: str | None = None) -> None:
        """`hit_or_raise` for an endpoint running in the threadpool (the API's login), with
        the lock-out's audit record of `hit_or_raise_async`. Call it before the endpoint's
        own transaction starts (the record commits on a session of its own)."""
        try:
            self.hit_or_raise(request, key)
        except RateLimited as exc:
            if exc.lockout_started:  # SPEC §8: one audit record per lock-out, not per refusal
                self._record_lockout(request.app.state.db, key)
            raise

    async def hit_or_raise_async(self, request: Request, key: str | None = None) -> None:
        try:
            if self._redis is None or not self._redis.usable():
                self.hit_or_raise(request, key)  # in-process: no I/O
            else:
                await run_in_threadpool(self.hit_or_raise, request, key)
        except RateLimited as exc:
            if exc.lockout_started:  # SPEC §8: one audit record per lock-out, not per refusal
                await run_in_threadpool(self._record_lockout, request.app.state.db, key)
            raise

    def _record_lockout(self, db: Database, key: str | None) -> None:
        with db.session() as session:
            user = None
            if key and "@" in key:
                try:
                    user = accounts.find_user(session, key)
                except InvalidEmail:
                    user = None
            audit.record(
                session,
                audit.Types.RATE_LIMITED,
                user_id=user.id if user is not None else None,
                limiter=self.name,
                window_seconds=self.window,
            )

    def hit(self, buckets: list[str]) -> int | None:
        """Count one attempt in each bucket; seconds to wait when any is over the limit."""
        return self._hit(buckets)[0]

    def _hit(self, buckets: list[str]) -> tuple[int | None, bool]:
        """`hit`, and whether this attempt is the first refused one of its window."""
        now = time.time()
        index = int(now // self.window)
        names = [f"{self.prefix}:{self.name}:{bucket}:{index}" for bucket in buckets]
        counts = None
        if self._redis is not None and self._redis.usable():
            counts = self._incr_redis(self._redis, names)
        if counts is None:
            counts = self._incr_memory(names, index)
        if max(counts) <= self.limit:
            return None, False
        first = self.limit + 1 in counts
        return max(1, math.ceil((index + 1) * self.window - now)), first

    def _incr_redis(self, link: RedisLink, names: list[str]) -> list[int] | None:
        try:
            pipe = link.client.pipeline(transaction=False)
            for name in names:
                pipe.incr(name)
                pipe.expire(name, self.window + 1)
            replies = pipe.execute()
        except redis.RedisError as exc:
            link.failed(exc)  # one warning per outage; in-process until Redis is tried again
            return None
        link.succeeded()
        return [int(value) for value in replies[0::2]]

    def _incr_memory(self, names: list[str], index: int) -> list[int]:
        with self._lock:
            if len(self._counts) > _MAX_MEMORY_KEYS:
                suffix = f":{index}"
                self._counts = {k: v for k, v in self._counts.items() if k.endswith(suffix)}
            counts = []
            for name in names:
                value = self._counts.get(name, 0) + 1
                self._counts[name] = value
                counts.append(value)
            return counts


def install(state: Any, settings: Settings) -> None:
    """The app's limiters on `app.state`, created with the app (`create_app`) whichever
    routers it serves: the API's password login counts against the same limit as the page's."""
    redis_url = settings.redis_url
    state.login_limiter = RateLimiter.from_setting("login", settings.rate_limit_login, redis_url)
    state.token_limiter = RateLimiter.from_setting("token", settings.rate_limit_token, redis_url)
    # Registration and password-reset mails: same rate as logins, separate counters.
    state.account_mail_limiter = RateLimiter.from_setting(
        "account-mail", settings.rate_limit_login, redis_url
    )
