"""The named scenarios of the benchmark. Add one by appending a builder to `BUILDERS`.

A builder gets the seeded data set (`bench.seed.Seeded`) and returns a `Scenario` (or None
when the data set lacks what it needs). Each scenario is checked once before the load: its
status must be 2xx and, when it has one, its `check` must pass on the decoded JSON body.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.seed import Seeded

BASELINE = "health"  # every other scenario is reported as a ratio of this one's req/s


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None  # sent as is; set Content-Type in headers
    # When set, wrk sends these header sets in turn (e.g. many users' tokens), on top of
    # `headers`; the probe uses the first one.
    header_sets: tuple[Mapping[str, str], ...] = ()
    target_ratio: float | None = None  # req/s of this / req/s of BASELINE, from the issue
    check: Callable[[Any], str | None] | None = None  # JSON body -> problem, or None

    def probe(self, base_url: str) -> str | None:
        """One request before the load: None when it answers as expected, else the problem."""
        request = urllib.request.Request(
            base_url + self.path,
            method=self.method,
            headers={**self.headers, **(self.header_sets[0] if self.header_sets else {})},
            data=self.body.encode() if self.body is not None else None,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            return f"{self.method} {self.path} answered {exc.code}: {exc.read()[:300]!r}"
        if not 200 <= status < 300:
            return f"{self.method} {self.path} answered {status}"
        if self.check is not None:
            return self.check(json.loads(raw))
        return None


def health(_seeded: Seeded) -> Scenario:
    return Scenario(BASELINE, "/health", check=lambda body: _expect(body, {"status": "ok"}))


def _events_page_check(seeded: Seeded) -> Callable[[Any], str | None]:
    def check(body: Any) -> str | None:
        meta = body.get("meta_data", {})
        if meta.get("count") != seeded.visible_events or len(body.get("data", [])) != 10:
            return f"events list: count {meta.get('count')} (want {seeded.visible_events})"
        return None

    return check


def events_list_user_token(seeded: Seeded) -> Scenario:
    """One user, over and over: the issue's scenario."""
    return Scenario(
        "events_list_token",
        "/api/v2/events/?limit=10",
        headers={"Authorization": f"Token {seeded.token}"},
        target_ratio=0.15,
        check=_events_page_check(seeded),
    )


def events_list_many_users(seeded: Seeded) -> Scenario | None:
    """The same page for 100 users spread over the data set, in turn: a working set like real
    traffic's (one user keeps every page it touches hot, which hides the 10x data set)."""
    if not seeded.sample_tokens:
        return None
    return Scenario(
        "events_list_100_users",
        "/api/v2/events/?limit=10",
        header_sets=tuple({"Authorization": f"Token {t}"} for t in seeded.sample_tokens),
        target_ratio=0.15,
        check=_events_page_check(seeded),
    )


# Planned scenarios, to be added here once their features exist (each needs its credential
# created in `bench.seed` through the feature's own repository, never faked):
# - "events_list_bearer": GET /api/v2/events/?limit=10 with `Authorization: Bearer <access
#   token>` of an OAuth app under `seeded.service_id` (scope service.read); check: count ==
#   the bench user's events with service_id set that they can read.
# - "events_list_action_token": the same list with `Authorization: ActionToken <token>` whose
#   grants include `GET /api/v2/events/`.
# - "oauth_token_refresh": POST /oauth2/token/ grant_type=refresh_token. Refresh tokens rotate
#   and a reused one revokes its family, so a fixed body cannot be replayed: it needs a pool
#   of pre-issued refresh tokens handed out one per request by a Lua `request()` function
#   (e.g. a C42_WRK_BODIES_FILE read by bench/c42.lua), sized for the run's duration.
BUILDERS: list[Callable[[Seeded], Scenario | None]] = [
    health,
    events_list_user_token,
    events_list_many_users,
]


def build(seeded: Seeded, names: list[str] | None = None) -> list[Scenario]:
    chosen = [s for s in (builder(seeded) for builder in BUILDERS) if s is not None]
    if names:
        unknown = set(names) - {s.name for s in chosen}
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        chosen = [s for s in chosen if s.name in names or s.name == BASELINE]
    return chosen


def _expect(body: Any, wanted: dict[str, Any]) -> str | None:
    return None if body == wanted else f"unexpected body {body!r}"
