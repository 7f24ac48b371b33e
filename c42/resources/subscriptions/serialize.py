"""The wire shape of a calendar or event subscription (SPEC §4)."""

from __future__ import annotations

from typing import Any

from c42.access.permissions import NAMES
from c42.resources import common
from c42.resources.subscriptions.kinds import Kind


def subscription(kind: Kind, row: Any) -> dict[str, Any]:
    """A removed subscription, or one the caller no longer sees (`gone` in a sync), is shown
    as its id and permission only."""
    if row.deleted_at is not None or getattr(row, "gone", False):
        return {"id": row.id, "permission": NAMES[row.permission]}
    previous = row.previous_permission
    data: dict[str, Any] = {
        "id": row.id,
        kind.target.key: getattr(row, kind.target.key),
        "subscriber": {"user_id": row.user_id},
        "permission": NAMES[row.permission],
        "previous_permission": None if previous is None else NAMES[previous],
    }
    for name in kind.fields:
        data[name] = getattr(row, name)
    data["actor"] = {"user_id": row.actor_id} if row.actor_id else None
    data["created"] = common.fmt_dt(row.created)
    data["modified"] = common.fmt_dt(row.modified)
    data["sync_token"] = row.sync_token
    return data
