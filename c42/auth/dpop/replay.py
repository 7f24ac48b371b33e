"""The DPoP `jti` replay cache (RFC 9449 §11.1): a proof is accepted once.

With `C42_REDIS_URL` the cache is Redis (`SET key 1 NX EX ttl`: one round trip, atomic across
every process of every host). Without Redis, or while it is away (c42.redis_link's outage
rule), each process keeps its own cache: a replay to the same process is still refused, a replay
to another process within the proof's short life is not — documented in docs/device-and-dpop.md.

Keys are digests of the key thumbprint and the `jti`, so one client cannot spend another's
`jti` values, and no proof content is stored.
"""

from __future__ import annotations

import hashlib
import threading
import time

import redis

from c42 import redis_link

_PREFIX = "c42:dpop:jti:"
_MAX_LOCAL = 200_000  # in-process entries; past it, expired ones are dropped first


class ReplayCache:
    def __init__(self, redis_url: str | None) -> None:
        self._link = redis_link.shared(redis_url) if redis_url else None
        self._lock = threading.Lock()
        self._local: dict[bytes, float] = {}  # key -> monotonic expiry

    @property
    def blocking(self) -> bool:
        """True when `first_use` would now wait on the network (Redis configured and not in
        its outage back-off): call it off the event loop then."""
        return self._link is not None and self._link.usable()

    def first_use(self, jkt: str, jti: str, ttl: int) -> bool:
        """True the first time (jkt, jti) is seen within `ttl` seconds, False for a replay."""
        key = hashlib.sha256(f"{jkt}\x00{jti}".encode()).digest()
        link = self._link
        if link is not None and link.usable():
            try:
                stored = link.client.set(_PREFIX + key.hex(), b"1", nx=True, ex=ttl)
            except redis.RedisError as exc:
                link.failed(exc)
            else:
                link.succeeded()
                return bool(stored)
        return self._first_local(key, ttl)

    def _first_local(self, key: bytes, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            expiry = self._local.get(key)
            if expiry is not None and expiry > now:
                return False
            if len(self._local) >= _MAX_LOCAL:
                self._local = {k: e for k, e in self._local.items() if e > now}
                if len(self._local) >= _MAX_LOCAL:
                    # Refuse rather than forget: a full cache of live proofs is an attack.
                    return False
            self._local[key] = now + ttl
            return True
