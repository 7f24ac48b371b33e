"""The Prometheus metrics of SPEC §7, and the per-request recorder.

Labels only ever hold values from closed sets, so that no request can add a series and no series
can say who called: route templates (never a raw path; `unrouted` when nothing matched), HTTP
methods (`OTHER` for any but the standard ones), status codes, credential kinds, error codes,
grant types and limiter names. Never a user id, e-mail address, client id, token or path.

Across worker processes: `c42 serve --workers N` sets `PROMETHEUS_MULTIPROC_DIR` before the
workers start (c42.ops.multiprocess); prometheus_client then keeps every value in a per-process
memory-mapped file, which /metrics adds up (c42.ops.exposition).

This module imports only prometheus_client, so that any layer may count an outcome through it.
"""

from __future__ import annotations

from typing import Any

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

# `_created` series are per process: meaningless once processes are added up, so none at all.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client: unannotated

UNROUTED = "unrouted"  # the route label of a request no route matched (404, 414, 431, ...)
OTHER_METHOD = "OTHER"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes are not counted: /health is the benchmark's baseline and every request
# pays for the recording, and a scrape counting itself would change what it reads.
NOT_MEASURED = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
# Seconds. The API answers in about a millisecond (bench/RESULTS.md); 2.5 s and up are outages.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "c42_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "c42_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=DURATION_BUCKETS,
)
AUTH_OUTCOMES = Counter(
    "c42_auth_outcomes",
    "API authentication outcomes by credential kind (Token, ActionToken, Bearer; none when no "
    "credential was sent, unknown when the header was unreadable) and reason (ok, or the error "
    "code answered).",
    ["kind", "reason"],
)
TOKENS_ISSUED = Counter(
    "c42_oauth_tokens_issued",
    "Access tokens issued by the OAuth token endpoint, by grant type.",
    ["grant_type"],
)
RATE_LIMIT_REFUSALS = Counter(
    "c42_rate_limit_refusals",
    "Requests refused by a rate limit (429), by limiter.",
    ["limiter"],
)
DB_POOL_IN_USE = Gauge(
    "c42_db_pool_connections_in_use",
    "Database connections lent out by the connection pools now, summed over live processes.",
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "c42_db_pool_capacity",
    "Connections the pools may lend at once (size plus overflow), summed over live processes.",
    multiprocess_mode="livesum",
)


class _Children:
    """A labelled counter's children, looked up once per label values (`labels()` costs more
    than the increment). Every caller passes values from a closed set."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._children: dict[tuple[str, ...], Any] = {}

    def inc(self, *labels: str) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._counter.labels(*labels)
        child.inc()


_auth_outcomes = _Children(AUTH_OUTCOMES)
_tokens_issued = _Children(TOKENS_ISSUED)
_rate_limit_refusals = _Children(RATE_LIMIT_REFUSALS)


def auth_outcome(kind: str, reason: str) -> None:
    """`kind`: a credential kind's scheme word, `none` or `unknown`; `reason`: `ok` or the error
    code answered."""
    _auth_outcomes.inc(str(kind), reason)


def token_issued(grant_type: str) -> None:
    """`grant_type`: a grant the token endpoint has registered (it issued a token)."""
    _tokens_issued.inc(grant_type)


def rate_limit_refused(limiter: str) -> None:
    _rate_limit_refusals.inc(limiter)


class RequestRecorder:
    """Counts one answered request and observes its duration: one counter increment and one
    histogram observation on label children looked up once per (route, method, status)."""

    def __init__(self) -> None:
        # Keyed by the route's id: Starlette routes define __eq__ and so are unhashable; they
        # live as long as the app, which owns this recorder.
        self._children: dict[tuple[int, str, int], tuple[Any, Any] | None] = {}

    def record(self, route: Any, method: str, status: int, seconds: float) -> None:
        """`route` is the routed object (`scope["route"]`) or None."""
        if method not in METHODS:
            method = OTHER_METHOD  # a client's made-up method names no series
        key = (id(route), method, status)
        try:
            children = self._children[key]
        except KeyError:  # once per key
            children = self._children[key] = self._children_for(route, method, status)
        if children is not None:
            children[0].inc()
            children[1].observe(seconds)

    @staticmethod
    def _children_for(route: Any, method: str, status: int) -> tuple[Any, Any] | None:
        template = getattr(route, "path", None) if route is not None else UNROUTED
        if template in NOT_MEASURED:
            return None
        if not isinstance(template, str):
            template = UNROUTED
        return (
            HTTP_REQUESTS.labels(template, method, str(status)),
            HTTP_DURATION.labels(template, method),
        )
