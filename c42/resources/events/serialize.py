"""Event rows to the C42 wire shape. Plain dicts, serialised once by orjson."""

from __future__ import annotations

from typing import Any

from c42.access.permissions import NAMES
from c42.resources.common import fmt_dt


def event(row: Any, calendar_ids: list[str]) -> dict[str, Any]:
    if row.deleted_at is not None or not row.permission:
        return deleted(row)
    previous = row.previous_permission
    return {
        "id": row.id,
        "event_type": row.event_type,
        "title": row.title,
        "description": row.description,
        "start": fmt_dt(row.start),
        "end": fmt_dt(row.end),
        "start_timezone": row.start_timezone,
        "end_timezone": row.end_timezone,
        "all_day": row.all_day,
        "due": fmt_dt(row.due),
        "color": row.color,
        "icon": row.icon,
        "logo": row.logo,
        "source_url": row.source_url,
        "is_suggestion": row.is_suggestion,
        "start_location": row.start_location,
        "end_location": row.end_location,
        "related_event": row.related_event_id,
        "time_buffer": row.time_buffer,
        "service_id": row.service_id,
        "created": fmt_dt(row.created),
        "modified": fmt_dt(row.modified),
        "creator": row.creator_id,
        "sync_token": row.sync_token,
        "permission": NAMES[row.permission],
        "previous_permission": None if previous is None else NAMES[previous],
        "rsvp_status": row.rsvp_status,
        "is_invitation": bool(row.is_invitation) if row.is_invitation is not None else False,
        "calendar_ids": calendar_ids,
    }


def deleted(row: Any) -> dict[str, Any]:
    """SPEC §4: deleted objects in a sync response carry exactly id and permission."""
    return {"id": row.id, "permission": NAMES[row.permission or 0]}
