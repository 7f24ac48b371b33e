"""Credential-cache evictions: in this process at once, in every other one through Redis (SPEC §7).

Each `c42 serve` process keeps credential look-ups for at most a second (`token_cache.py`) and
the registered CORS origins for as long. A committed change that takes a credential away — a
revoked User or Action Token, a revoked OAuth token, a disconnected app, a deactivated user, a
password reset, a merged sandbox, a disabled app — calls `EvictionBus.publish` once its
transaction has committed (never before: a look-up in between would cache the old state again).
The bus applies each eviction to this process's caches at once and, with `C42_REDIS_URL`,
publishes it on one channel that every process subscribes to, so the others drop the entry
within milliseconds. While Redis is away the cache time (at most 1 s) remains the bound, and a
process that (re)subscribes drops its whole cache once, for what it may have missed.

A message is `key <kind>:<sha256 digest>` (the cache key: never a token), `user <user id>` or
`apps` (apps changed: every OAuth entry and the origins). Publishing never waits on Redis: a
thread sends what the request queued.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from c42 import redis_link
from c42.auth.subject import CredentialKind

CHANNEL = "c42:evict"
KEY, USER, APPS = "key", "user", "apps"
_SCOPES = frozenset({KEY, USER, APPS})
_LISTEN_SECONDS = 0.5  # how long the subscriber waits for a message before checking for stop

Listener = Callable[[str, str], None]  # (scope, value): ("key", "Bearer:<digest>"), ...


def cache_key(kind: CredentialKind, token_digest: str) -> str:
    """The credential cache's key for a digest (what `key` messages carry)."""
    return f"{kind.value}:{token_digest}"


def key(kind: CredentialKind, token_digest: str) -> str:
    return f"{KEY} {cache_key(kind, token_digest)}"


def user(user_id: str) -> str:
    return f"{USER} {user_id}"


def apps() -> str:
    return APPS


class EvictionBus:
    def __init__(self, redis_url: str | None) -> None:
        self._link = redis_link.shared(redis_url) if redis_url else None
        self._listeners: list[Listener] = []
        self._outbox: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, *messages: str) -> None:
        """After commit: evict here at once, and in every other process through Redis."""
        for message in messages:
            self._apply(message)
        if self._link is None or not messages:
            return
        if self._threads:
            self._outbox.put(list(messages))  # sent by the publisher thread: no wait here
        else:
            self._send(list(messages))  # not serving (the CLI): send before the process ends

    def publish_after_commit(self, session: Session, *messages: str) -> None:
        """`publish` once `session`'s transaction has committed; nothing if it rolls back."""
        event.listen(session, "after_commit", lambda _session: self.publish(*messages), once=True)

    def start(self) -> None:
        """Subscribe and start publishing (once per serving process, from the app lifespan)."""
        if self._link is None or self._threads:
            return
        self._stop.clear()
        for target, name in ((self._subscribe, "subscriber"), (self._publisher, "publisher")):
            thread = threading.Thread(target=target, name=f"c42-evictions-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if not self._threads:
            return
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=_LISTEN_SECONDS + 1)
        self._threads.clear()

    def _apply(self, message: str) -> None:
        scope, _, value = message.partition(" ")
        if scope not in _SCOPES or (scope != APPS and not value):
            return  # not one of ours: ignored
        for listener in self._listeners:
            listener(scope, value)

    def _send(self, messages: list[str]) -> None:
        link = self._link
        if link is None or not link.usable():
            return  # Redis away: the other processes' cache time bounds the delay
        try:
            pipe = link.client.pipeline(transaction=False)
            for message in messages:
                pipe.publish(CHANNEL, message)
            pipe.execute()
        except redis.RedisError as exc:
            link.failed(exc)
            return
        link.succeeded()

    def _publisher(self) -> None:
        while (messages := self._outbox.get()) is not None:
            self._send(messages)

    def _subscribe(self) -> None:
        link = self._link
        assert link is not None
        while not self._stop.is_set():
            if link.usable():
                self._listen(link)
            self._stop.wait(link.retry_seconds)

    def _listen(self, link: redis_link.RedisLink) -> None:
        """Apply the channel's messages until Redis fails or the bus stops."""
        pubsub = link.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py: pubsub() unannotated
        try:
            pubsub.subscribe(CHANNEL)
            link.succeeded()
            self._apply(APPS)  # whatever was published while we were not listening
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=_LISTEN_SECONDS)
                if message is not None and isinstance(message.get("data"), bytes):
                    self._apply(message["data"].decode("utf-8", "replace"))
        except (redis.RedisError, OSError) as exc:
            link.failed(exc)
        finally:
            pubsub.close()
