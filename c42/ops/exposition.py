"""`GET /metrics` (SPEC §7): the Prometheus text format, to loopback clients, and to others only
with `Authorization: Bearer <C42_METRICS_TOKEN>` (404 while that is unset).

A loopback peer that forwards for someone else (it sends Forwarded, X-Forwarded-For or
X-Real-IP) is a reverse proxy on the same host, not a local scraper: its requests need the
token too, so that putting a proxy in front never publishes the metrics by accident.
"""

from __future__ import annotations

import ipaddress
import os

from fastapi import APIRouter, Request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from c42.auth import secrets
from c42.errors import Unauthorized
from c42.ops import multiprocess

router = APIRouter(include_in_schema=False)
CHALLENGE = 'Bearer realm="c42-metrics"'
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    if not _is_local(request):
        _check_token(request, request.app.state.settings.metrics_token)
    body = await run_in_threadpool(render)  # reads the workers' files in multiprocess mode
    return Response(
        body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )


def render() -> bytes:
    """This process's metrics, or every worker's added up in multiprocess mode."""
    directory = os.environ.get(multiprocess.ENV)
    if not (directory and multiprocess.enabled()):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    workers = multiprocess.live_workers(directory)  # first: drops dead workers' gauges
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # prometheus_client: unannotated
    registry.register(multiprocess.WorkerProcesses(workers))
    return generate_latest(registry)


def _is_local(request: Request) -> bool:
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # no peer address (a Unix socket): not known to be local
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _check_token(request: Request, token: str | None) -> None:
    if not token:
        raise HTTPException(404)  # the app's own 404, as for any unknown path
    values = request.headers.getlist("authorization")
    scheme, _, sent = values[0].partition(" ") if len(values) == 1 else ("", "", "")
    # RFC 6750 §2.1 (the scheme is case-insensitive, RFC 7235 §2.1); compared in constant time.
    if scheme.lower() != "bearer" or not secrets.same(token, sent.strip(" ")):
        raise Unauthorized(
            "Metrics need the metrics token.", headers={"WWW-Authenticate": CHALLENGE}
        )
