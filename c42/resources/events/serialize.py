"""Event rows to the C42 wire shape: plain dicts, serialised once by orjson.

Rows come from compiled queries on the DB-API connection: timestamps already in the wire
format (rendered by the database), JSON as text on SQLite or decoded by psycopg, booleans as
0/1 on SQLite.
"""

from __future__ import annotations

from typing import Any

import orjson

from c42.access.permissions import NAMES


def json_value(value: Any) -> Any:
    if isinstance(value, str):
        return orjson.Fragment(value)  # already JSON text: emit as is, no parse
    return value


def flag(value: Any) -> bool:
    return bool(value)


def event(row: dict[str, Any], calendar_ids: list[str]) -> dict[str, Any]:
    permission = row["permission"]
    if row["deleted_at"] is not None or not permission:
        return deleted(row)
    previous = row["previous_permission"]
    return {
        "id": row["id"],
        "event_type": row["event_type"],
        "title": row["title"],
        "description": row["description"],
        "start": row["start"],
        "end": row["end"],
        "start_timezone": row["start_timezone"],
        "end_timezone": row["end_timezone"],
        "all_day": flag(row["all_day"]),
        "due": row["due"],
        "color": row["color"],
        "icon": row["icon"],
        "logo": row["logo"],
        "source_url": row["source_url"],
        "is_suggestion": flag(row["is_suggestion"]),
        "start_location": json_value(row["start_location"]),
        "end_location": json_value(row["end_location"]),
        "related_event": row["related_event_id"],
        "time_buffer": row["time_buffer"],
        "service_id": row["service_id"],
        "created": row["created"],
        "modified": row["modified"],
        "creator": row["creator_id"],
        "sync_token": row["sync_token"],
        "permission": NAMES[permission],
        "previous_permission": None if previous is None else NAMES[previous],
        "rsvp_status": row["rsvp_status"],
        "is_invitation": flag(row["is_invitation"]),
        "calendar_ids": calendar_ids,
    }


def deleted(row: dict[str, Any]) -> dict[str, Any]:
    """SPEC §4: deleted objects in a sync response carry exactly id and permission."""
    return {"id": row["id"], "permission": NAMES[row["permission"] or 0]}
