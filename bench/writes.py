"""The benchmark's write scenarios (issue 12): `POST /api/v2/events/`, each writer a user of
its own with its own calendar, one writer against WRITERS writers in parallel.

Each writer is one wrk thread with one connection (`Scenario.per_thread`), so a writer never
overlaps itself and writers never share a calendar: what the run measures is whether writers
of different calendars wait for each other (issue 12: on PostgreSQL they did, on one global
lock). The targets, printed met or not by `verdicts`:

- PostgreSQL: WRITERS writers create >= 1.5x the events per second of one writer, with their
  p99 within 3x of their median (no lock convoy);
- both databases: at least the event-create rate of the Django REST framework reference
  (`make bench-reference`, read from its results file).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c42 import accounts
from c42.access.permissions import Permission
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database, next_sync_token
from c42.models import Calendar, CalendarSubscription

if TYPE_CHECKING:
    from bench.report import TargetRun
    from bench.scenarios import Scenario
    from bench.seed import Seeded

WRITERS = 16
ONE = "events_create_1_writer"
MANY = f"events_create_{WRITERS}_writers"
SPEEDUP_TARGET = 1.5  # WRITERS writers' events/s over one writer's, PostgreSQL
P99_OVER_MEDIAN_TARGET = 3.0  # WRITERS writers' p99 / p50, PostgreSQL
DRF_RESULTS = Path(__file__).resolve().parent.parent / "var" / "reference" / "drf-results.json"
DRF_CREATE = "drf_events_create"


def seed_writers(db: Database, count: int = WRITERS) -> list[list[str]]:
    """`count` users, each with a User Token and a calendar of their own: [token, calendar]."""
    writers = []
    with db.session(write=True) as session:
        token = next_sync_token(session)
        for k in range(count):
            user = accounts.create_user(session, f"bench-writer-{k:02d}@bench.c42.test")
            calendar = Calendar(name=f"Writer {k}", creator_id=user.id, sync_token=token)
            session.add(calendar)
            session.flush()
            session.add(
                CalendarSubscription(
                    calendar_id=calendar.id,
                    user_id=user.id,
                    permission=Permission.SUBSCRIBED_WRITE,
                    sync_token=token,
                )
            )
            created = user_tokens.create(session, user.id, name="bench-writer")
            writers.append([created.token, calendar.id])
    return writers


def body(calendar_id: str) -> str:
    """A timed event in the writer's calendar (the issue's "POST events")."""
    return json.dumps(
        {
            "event_type": "normal",
            "title": "Bench write",
            "start": "2027-03-01T09:00:00Z",
            "end": "2027-03-01T10:00:00Z",
            "start_timezone": "Europe/Amsterdam",
            "end_timezone": "Europe/Amsterdam",
            "calendar_ids": [calendar_id],
        }
    )


def _scenario(seeded: Seeded, name: str, count: int) -> Scenario | None:
    from bench.scenarios import Scenario

    if len(seeded.writers) < count:
        return None
    per_thread = tuple(
        ({"Authorization": f"Token {token}", "Content-Type": "application/json"}, body(cal))
        for token, cal in seeded.writers[:count]
    )
    first_headers, first_body = per_thread[0]
    return Scenario(
        name,
        "/api/v2/events/",
        method="POST",
        headers=first_headers,
        body=first_body,
        per_thread=per_thread,
        check=_created,
    )


def one_writer(seeded: Seeded) -> Scenario | None:
    return _scenario(seeded, ONE, 1)


def many_writers(seeded: Seeded) -> Scenario | None:
    return _scenario(seeded, MANY, WRITERS)


def _created(answer: Any) -> str | None:
    data = answer.get("data") or [{}]
    if data[0].get("title") != "Bench write" or not data[0].get("calendar_ids"):
        return f"events create: unexpected answer {str(answer)[:200]}"
    return None


def drf_create_rps() -> tuple[float | None, str]:
    """The DRF reference's event-create rate from its last run, and where it comes from."""
    try:
        document = json.loads(DRF_RESULTS.read_text())
        rps = float(document["scenarios"][DRF_CREATE]["run"]["rps"])
        when = datetime.fromtimestamp(DRF_RESULTS.stat().st_mtime, UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None, f"no {DRF_CREATE} in var/reference (run `make bench-reference`)"
    return rps, f"var/reference/drf-results.json of {when:%Y-%m-%d %H:%M} UTC"


def verdicts(runs: list[TargetRun]) -> list[str]:
    """The write targets, each met or NOT MET (nothing when no write scenario ran)."""
    lines: list[str] = []
    drf, source = drf_create_rps()
    for run in runs:
        if MANY not in run.rounds or ONE not in run.rounds:
            continue
        one, many = run.median(ONE, "rps"), run.median(MANY, "rps")
        p50, p99 = run.median(MANY, "p50"), run.median(MANY, "p99")
        label = f"writes {run.database} x{run.scale}"
        if run.database == "postgresql":
            speedup = many / one if one else float("inf")
            lines.append(
                f"{label}: {WRITERS} writers {many:.0f}/s vs 1 writer {one:.0f}/s = "
                f"{speedup:.2f}x (target >= {SPEEDUP_TARGET}) "
                f"{'met' if speedup >= SPEEDUP_TARGET else 'NOT MET'}"
            )
            spread = p99 / p50 if p50 else float("inf")
            lines.append(
                f"{label}: {WRITERS} writers p99 {p99:.1f} ms / p50 {p50:.1f} ms = "
                f"{spread:.2f}x (target <= {P99_OVER_MEDIAN_TARGET}) "
                f"{'met' if spread <= P99_OVER_MEDIAN_TARGET else 'NOT MET'}"
            )
        best = max(one, many)
        if drf is None:
            lines.append(f"{label}: {best:.0f} events/s; DRF reference: {source}")
        else:
            lines.append(
                f"{label}: {best:.0f} events/s vs DRF reference {drf:.0f}/s ({source}) "
                f"{'met' if best >= drf else 'NOT MET'}"
            )
    return lines
