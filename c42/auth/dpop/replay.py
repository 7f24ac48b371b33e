"""The DPoP `jti` replay cache (RFC 9449 §11.1): a proof is accepted once.

With `C42_REDIS_URL` the cache is Redis (`SET key 1 NX EX ttl`: one round trip, atomic across
every process of every host). Without Redis, or while it is away (c42.redis_link's outage
rule), each process keeps its own cache: a replay to the same process is still refused, a replay
to another process within the proof's short life is not — documented in docs/device-and-dpop.md.

Keys are digests of the key thumbprint and the `jti`, so one client cannot spend another's
`jti` values, and no proof content is stored.

On the API the `SET` is awaited on the event loop (`first_use_async`) with a `redis.asyncio`
client of that loop, opened and closed by the app's lifespan (`open_loop_client`,
`close_loop_client`), the SETs of concurrent requests pipelined together (`_LoopSets`):
measured in bench/RESULTS.md, a sync `SET` sent through the threadpool cost ~250 us of worker
CPU per request in thread hand-offs, four times the `SET` itself. A loop the lifespan did not
open a client for (an app driven without one) takes the threadpool path instead, so no client
is ever left unclosed. The token endpoint and UserInfo, which run in the threadpool anyway,
use the sync `first_use`.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from typing import Any

import redis
import redis.asyncio
from starlette.concurrency import run_in_threadpool

from c42 import redis_link

_PREFIX = "c42:dpop:jti:"
_MAX_LOCAL = 200_000  # in-process entries; past it, expired ones are dropped first


class ReplayCache:
    def __init__(self, redis_url: str | None) -> None:
        self._link = redis_link.shared(redis_url) if redis_url else None
        self._lock = threading.Lock()
        self._local: dict[bytes, float] = {}  # key -> monotonic expiry
        self._url = redis_url
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSets] = (
            weakref.WeakKeyDictionary()
        )

    def first_use(self, jkt: str, jti: str, ttl: int) -> bool:
        """True the first time (jkt, jti) is seen within `ttl` seconds, False for a replay.
        Blocking (a network round trip) when Redis is configured: not on the event loop."""
        key = _key(jkt, jti)
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

    async def first_use_async(self, jkt: str, jti: str, ttl: int) -> bool:
        """`first_use` for the event loop: the Redis `SET` awaited there, same outage rule."""
        link = self._link
        if link is None or not link.usable():
            return self._first_local(_key(jkt, jti), ttl)  # pure CPU: no thread hop
        client = self._loop_clients.get(asyncio.get_running_loop())
        if client is None:  # a loop without our lifespan: no client of its own to close
            return await run_in_threadpool(self.first_use, jkt, jti, ttl)
        key = _key(jkt, jti)
        try:
            stored = await client.set_nx(_PREFIX + key.hex(), ttl)
        except redis.RedisError as exc:
            link.failed(exc)
            return self._first_local(key, ttl)
        link.succeeded()
        return bool(stored)

    def open_loop_client(self) -> None:
        """The running loop's Redis client (at app start-up; a no-op without Redis)."""
        if self._url is not None:
            loop = asyncio.get_running_loop()
            if loop not in self._loop_clients:
                self._loop_clients[loop] = _LoopSets(redis_link.async_client(self._url))

    async def close_loop_client(self) -> None:
        """Close the running loop's client and its connections (at app shutdown)."""
        client = self._loop_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

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


_Waiting = tuple[str, int, "asyncio.Future[bool]"]  # a request's (key name, ttl, answer)


class _LoopSets:
    """The `SET name 1 NX EX ttl` of one event loop's requests, with one round trip in flight
    at a time: the requests that arrive while one is on the wire go together in the next, as
    one pipeline. Under load a round trip serves many requests (measured in bench/RESULTS.md:
    a DPoP list with Redis ~10% faster than a SET per request); alone, a request sends its SET
    at once. Redis runs a pipeline's commands in order, so a proof sent twice in one batch is
    accepted once."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client
        self._pending: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None

    async def set_nx(self, name: str, ttl: int) -> bool:
        """True when `name` was not set (it is now, for `ttl` seconds); RedisError on failure."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((name, ttl, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._round_trip(batch)
                except redis.RedisError as exc:
                    # The requests that queued meanwhile fall back at once too, rather than
                    # wait out another timeout (c42.redis_link: Redis now counts as down).
                    _settle(batch + self._pending, exc)
                    self._pending = []
                else:
                    for (_, _, future), result in zip(batch, results, strict=True):
                        if not future.done():  # done: the request was cancelled meanwhile
                            future.set_result(bool(result))
        except BaseException:
            # Cancelled (the loop is ending) or a bug: no request may wait forever.
            _settle(batch + self._pending, redis.ConnectionError("the replay cache stopped"))
            self._pending = []
            raise
        finally:
            self._sender = None

    async def _round_trip(self, batch: list[_Waiting]) -> list[Any]:
        if len(batch) == 1:
            name, ttl, _ = batch[0]
            return [await self._client.set(name, b"1", nx=True, ex=ttl)]
        pipe = self._client.pipeline(transaction=False)
        for name, ttl, _ in batch:
            pipe.set(name, b"1", nx=True, ex=ttl)
        return list(await pipe.execute())

    async def close(self) -> None:
        await self._client.aclose()


def _settle(batch: list[_Waiting], exc: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(exc)


def _key(jkt: str, jti: str) -> bytes:
    return hashlib.sha256(f"{jkt}\x00{jti}".encode()).digest()
