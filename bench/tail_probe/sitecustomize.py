"""Loaded by every Python process started with this directory first on PYTHONPATH (only
`python -m bench.tail` does that), and active only when `C42_TAIL_PROBE` names an output
prefix: inside each uvicorn worker it records, without touching the app's code,

- each HTTP request's time inside the worker (ASGI call to its last byte handed to uvicorn)
  and its client port (which wrk connection: how connections spread over the workers);
- each garbage collection (generation, pause);
- the event loop's lag (a 10 ms sleep's overshoot);
- the wait for a PostgreSQL hot-read connection (`c42.pg_reads.ReadPool.connection`).

Written every second to `<prefix>-<pid>.json` (monotonic clock, comparable across processes).
"""

from __future__ import annotations

import os

OUT = os.environ.get("C42_TAIL_PROBE")

if OUT:
    import asyncio
    import gc
    import json
    import threading
    import time
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager
    from typing import Any

    _gc_started = [0.0]
    _record: dict[str, list[Any]] = {"gc": [], "req": [], "lag": [], "pool_wait": []}

    def _on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _gc_started[0] = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - _gc_started[0]) * 1e3
        _record["gc"].append((info["generation"], pause_ms, time.monotonic()))

    def _dump() -> None:
        if not _record["req"]:
            return
        path = f"{OUT}-{os.getpid()}.json"
        data = {**_record, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)

    def _every_second() -> None:
        while True:
            time.sleep(1.0)
            _dump()

    def _wrap(app: Any) -> Any:
        lag_started = [False]

        async def lag() -> None:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(0.01)
                _record["lag"].append(
                    ((time.perf_counter() - started) * 1e3 - 10, time.monotonic())
                )

        async def timed(scope: Any, receive: Any, send: Any) -> Any:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if not lag_started[0]:
                lag_started[0] = True
                asyncio.get_running_loop().create_task(lag())
            port = (scope.get("client") or ("", 0))[1]
            started = time.perf_counter()
            try:
                return await app(scope, receive, send)
            finally:
                elapsed = (time.perf_counter() - started) * 1e3
                _record["req"].append((elapsed, time.monotonic(), port))

        return timed

    def _patch_pool() -> None:
        from c42 import pg_reads

        original = pg_reads.ReadPool.connection

        @asynccontextmanager
        async def connection(self: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            async with original(self) as conn:
                waited = (time.perf_counter() - started) * 1e3
                _record["pool_wait"].append((waited, time.monotonic()))
                yield conn

        pg_reads.ReadPool.connection = connection  # type: ignore[method-assign]

    gc.callbacks.append(_on_gc)
    threading.Thread(target=_every_second, daemon=True).start()

    import uvicorn.config

    _load = uvicorn.config.Config.load

    def _load_and_wrap(self: Any) -> None:
        _load(self)
        self.loaded_app = _wrap(self.loaded_app)
        _patch_pool()

    uvicorn.config.Config.load = _load_and_wrap  # type: ignore[method-assign]
