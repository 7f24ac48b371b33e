"""What a DPoP proof costs the API, measured in one process without the network or wrk noise.

    .venv/bin/python -m bench.dpop_cost                 # SQLite, seeded first when needed
    .venv/bin/python -m bench.dpop_cost --requests 5000 --rounds 7

Calls the real ASGI app (`c42.worker`'s garbage collector settings) directly with the bench's
`events_list_bearer` and `events_list_dpop` requests (bench/dpop.py: a new ES256 proof per
request, made beforehand), and a third time with the DPoP requests but every signature taken as
valid ("dpop, no signature check"): the difference between the last two is what verifying the
signature costs inside a request, the difference between the first and the last what the rest
of the DPoP path costs. Rounds alternate the three; each figure is the fastest round's CPU time
per request (`time.process_time`), the least disturbed by other load on the machine.

This is the in-process view of `make bench`'s "events_list_dpop / events_list_bearer" target
(issue 16); `make bench` adds uvicorn, the sockets and two workers sharing the cores with wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from unittest import mock

from bench import scenarios, seed
from bench.dpop import BEARER, NAME
from bench.targets import sqlite_target

ISSUER = "http://127.0.0.1:8000"
NO_SIGNATURE_CHECK = "dpop, no signature check"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.dpop_cost", description=__doc__.split("\n")[0]
    )
    p.add_argument("--requests", type=int, default=3000, help="per round and kind (default 3000)")
    p.add_argument("--rounds", type=int, default=5, help="of each kind, alternating (default 5)")
    args = p.parse_args(argv)
    target = sqlite_target(1)
    seeded = seed.load_manifest(target) or seed.seed(target, progress=print)
    os.environ["C42_DATABASE_URL"] = target.server_url
    os.environ["C42_ISSUER"] = ISSUER  # the proofs' htu origin
    built = {s.name: s for s in scenarios.build(seeded, [BEARER, NAME])}
    if NAME not in built:
        raise SystemExit("the seeded database has no bench OAuth app: seed again (bench.run)")
    best = asyncio.run(_measure(built[BEARER], built[NAME], args.requests, args.rounds))
    bearer, dpop, unsigned = best[BEARER], best[NAME], best[NO_SIGNATURE_CHECK]
    print(
        f"CPU per request, fastest of {args.rounds} rounds of {args.requests} (SQLite, in process)"
    )
    for kind, value in best.items():
        print(f"  {kind:<28} {value:7.1f} us")
    print(f"  signature check in a request {dpop - unsigned:7.1f} us")
    print(f"  rest of the DPoP path        {unsigned - bearer:7.1f} us")
    print(f"  {NAME} / {BEARER}: {bearer / dpop:.3f} (req/s ratio if CPU-bound)")
    return 0


async def _measure(bearer: Any, dpop: Any, requests: int, rounds: int) -> dict[str, float]:
    from c42.auth.dpop import proofs
    from c42.worker import create_worker_app

    app = create_worker_app()
    accept_all = mock.patch.object(proofs, "_verifier", lambda *_: lambda *_: True)
    kinds: dict[str, tuple[Any, Callable[[], AbstractContextManager[Any]]]] = {
        BEARER: (bearer, nullcontext),
        NAME: (dpop, nullcontext),
        NO_SIGNATURE_CHECK: (dpop, lambda: accept_all),
    }
    best: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        for _ in range(rounds):
            for kind, (scenario, patch) in kinds.items():
                proofs._header.cache_clear()  # verifiers are made per cached header
                with patch():
                    seconds = await _round(app, scenario, requests)
                best[kind] = min(best.get(kind, seconds), seconds)
    return {kind: seconds / requests * 1e6 for kind, seconds in best.items()}


async def _round(app: Any, scenario: Any, requests: int) -> float:
    """CPU seconds for `requests` calls of the scenario (after 100 unmeasured ones)."""
    once = scenario.once_headers(ISSUER, requests + 100) if scenario.once_headers else None
    fixed = [(n.lower().encode(), v.encode()) for n, v in scenario.headers.items()]
    path, _, query = scenario.path.partition("?")
    scopes = []
    for i in range(requests + 100):
        headers = [*fixed, (b"host", b"127.0.0.1:8000")]
        if once:
            name, _, value = once[i].partition(": ")
            headers.append((name.lower().encode(), value.encode()))
        scopes.append(_scope(path, query, headers))
    for scope in scopes[:100]:
        await _call(app, scope)
    started = time.process_time()
    for scope in scopes[100:]:
        await _call(app, scope)
    return time.process_time() - started


def _scope(path: str, query: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, scope: dict[str, Any]) -> None:
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise SystemExit(f"{scope['path']} answered {status}: the measurement would be wrong")


if __name__ == "__main__":
    raise SystemExit(main())
