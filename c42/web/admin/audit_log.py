"""Console: the audit log with filters (user, app, type, time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from c42 import accounts, audit
from c42.emails import InvalidEmail
from c42.web.admin.guard import page, read, staff_user

router = APIRouter(include_in_schema=False)
LIMIT = 200


def _time(text: str) -> datetime | None:
    """An <input type=datetime-local> value (UTC, as the page says), or None."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/admin/audit/")
async def audit_page(request: Request) -> Response:
    staff = await staff_user(request)
    params = request.query_params
    values = {
        name: (params.get(name) or "")[:320] for name in ("user", "app", "type", "since", "until")
    }
    problems: list[str] = []
    since, until = _time(values["since"]), _time(values["until"])
    if (values["since"] and since is None) or (values["until"] and until is None):
        problems.append("Times are YYYY-MM-DDTHH:MM (UTC).")
    type_text = values["type"]
    prefix = type_text[:-1] if type_text.endswith("*") else None

    def load(session: Session) -> dict[str, Any]:
        user_id = None
        if values["user"]:
            try:
                user = accounts.find_user(session, values["user"])
            except InvalidEmail:
                user = None
            if user is None:
                return {"records": [], "problem": "No account has this e-mail address."}
            user_id = user.id
        filters = audit.Filters(
            user_id=user_id,
            client_id=values["app"] or None,
            types=[type_text] if type_text and prefix is None else [],
            type_prefix=prefix,
            since=since,
            until=until,
            limit=LIMIT,
        )
        return {"records": [audit.as_json(row) for row in audit.search(session, filters)]}

    context = await read(request, load)
    if context.get("problem"):
        problems.append(context["problem"])
    context.update(
        title="Audit log",
        section="audit",
        values=values,
        types=audit.ALL_TYPES,
        problems=problems,
        limit=LIMIT,
    )
    return page(request, staff, "admin/audit.html", context)
