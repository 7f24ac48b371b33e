"""A `c42 serve` worker's app: `c42.app.create_app`, then the garbage collector set for serving.

Why (measured in bench/RESULTS.md, "Sixth session"): under load a worker's cyclic garbage
collector ran a full (generation 2) collection every ~1.5 s, and each one walked the ~160,000
objects of the imported modules, the routes and the caches, all alive for the process's life:
250-300 ms with the event loop stopped, so every request in flight waited for it (the events
list's p99 on PostgreSQL). Objects that live until the process ends need never be walked, so
once the app is built they are moved to the collector's permanent generation (`gc.freeze`);
full collections then walk only what serving allocated (a few thousand objects, ~2 ms).

The young generation's threshold is raised from 700 to `YOUNG_THRESHOLD` allocations: each
collection promotes whatever the requests in flight hold at that instant, so collecting every
700 allocations promoted request objects to the older generations, and they triggered the
full collections. Garbage without cycles is freed at once by reference counting whatever the
threshold; only cyclic garbage waits longer (bounded: a collection still runs every
`YOUNG_THRESHOLD` allocations).
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from c42.app import create_app

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def create_worker_app() -> FastAPI:
    """uvicorn's factory in each worker process (`c42.cli.serve`)."""
    app = create_app()
    settle_garbage_collector()
    return app


def settle_garbage_collector() -> None:
    """After start-up: what exists now lives as long as the process; never walk it again."""
    gc.collect()  # start-up's own garbage is not frozen with the rest
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
