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

from bench import dpop as bench_dpop
from bench import oauth as bench_oauth
from bench import writes
from bench.seed import Seeded
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.subject import Grant

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
    # When set, each wrk run gets `bodies(count)`: `count` bodies sent once each, in order
    # (for requests that cannot be replayed, e.g. refresh tokens); the probe sends `body`.
    bodies: Callable[[int], list[str]] | None = None
    # When set, each (headers, body) is one wrk thread with one connection sending it over
    # and over (e.g. one writer each, bench/writes.py); the run then has as many threads and
    # connections. The probe sends `headers` and `body`.
    per_thread: tuple[tuple[Mapping[str, str], str], ...] = ()
    # When set, each wrk run gets `once_headers(base_url, count)`: `count` "Name: value"
    # headers sent once each, in order, on top of `headers` (e.g. DPoP proofs, bench/dpop.py);
    # the probe sends the first of a fresh batch of one.
    once_headers: Callable[[str, int], list[str]] | None = None
    target_ratio: float | None = None  # req/s of this / req/s of BASELINE, from the issue
    check: Callable[[Any], str | None] | None = None  # JSON body -> problem, or None

    def probe(self, base_url: str) -> str | None:
        """Requests before the load, one per header set (each user's data is then read once,
        so a cold cache does not land in the measured run): None when each answers as
        expected, else the first problem."""
        for extra in self.header_sets or ({},):
            if self.once_headers is not None:
                name, _, value = self.once_headers(base_url, 1)[0].partition(": ")
                extra = {**extra, name: value}
            problem = self._probe_one(base_url, {**self.headers, **extra})
            if problem:
                return problem
        return None

    def _probe_one(self, base_url: str, headers: dict[str, str]) -> str | None:
        request = urllib.request.Request(
            base_url + self.path,
            method=self.method,
            headers=headers,
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


def events_list_bearer(seeded: Seeded) -> Scenario | None:
    """The issue's list with an OAuth access token of an app of the bench service
    (`service.read`): the same page, restricted to the service's events."""
    if not seeded.bearer_token:
        return None

    def check(body: Any) -> str | None:
        meta, data = body.get("meta_data", {}), body.get("data", [])
        if meta.get("count") != seeded.bearer_visible_events or len(data) != 10:
            return f"bearer list: count {meta.get('count')} (want {seeded.bearer_visible_events})"
        if any(item.get("service_id") != seeded.service_id for item in data):
            return "bearer list: an event outside the app's service"
        return None

    return Scenario(
        "events_list_bearer",
        "/api/v2/events/?limit=10",
        headers={"Authorization": f"Bearer {seeded.bearer_token}"},
        check=check,
    )


def oauth_token_refresh(seeded: Seeded) -> Scenario | None:
    """Token issuance at /oauth2/token/: grant_type=refresh_token by a confidential app
    (HTTP Basic). Each request spends one pre-issued refresh token (they rotate), from a fresh
    pool per wrk run; a pool used up shows as non-2xx answers."""
    if not seeded.oauth_client_id:
        return None
    db = bench_oauth.database_of(seeded.url, seeded.scale)
    bench_oauth.rekey(db, seeded.oauth_client_id, seeded.oauth_client_secret)

    def check(body: Any) -> str | None:
        if body.get("token_type") != "Bearer" or not body.get("refresh_token"):
            return f"refresh: unexpected answer {sorted(body)}"
        return None

    return Scenario(
        "oauth_token_refresh",
        "/oauth2/token/",
        method="POST",
        headers={
            "Authorization": bench_oauth.basic(seeded.oauth_client_id, seeded.oauth_client_secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=bench_oauth.refresh_bodies(db, seeded.oauth_client_id, 1)[0],
        bodies=lambda count: bench_oauth.refresh_bodies(db, seeded.oauth_client_id, count),
        check=check,
    )


def events_list_action_token(seeded: Seeded) -> Scenario:
    """The issue's list with an Action Token of the benchmark user granted `GET /api/v2/events/`
    (no use limit): its check must cost no more than the User Token's (issue 3)."""
    db = bench_oauth.database_of(seeded.url, seeded.scale)
    try:
        with db.session() as session:
            created = action_tokens.create(
                session,
                user_id=seeded.bench_user_id,
                creator_id=seeded.bench_user_id,
                grants=[Grant("GET", "/api/v2/events/")],
                name="bench",
            )
            token = created.token
    finally:
        db.dispose()
    return Scenario(
        "events_list_action_token",
        "/api/v2/events/?limit=10",
        headers={"Authorization": f"ActionToken {token}"},
        check=_events_page_check(seeded),
    )


BUILDERS: list[Callable[[Seeded], Scenario | None]] = [
    health,
    events_list_user_token,
    events_list_many_users,
    events_list_bearer,
    events_list_action_token,
    bench_dpop.events_list_dpop,
    oauth_token_refresh,
    writes.one_writer,  # writes last: they add rows
    writes.many_writers,
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
