"""/api/v2/calendars/ — list, create, read, change, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from c42.access.permissions import NAMES
from c42.access.policy import Action, authorize_calendar
from c42.db import current_sync_token
from c42.resources import common
from c42.resources.auth import Reader, Writer
from c42.resources.calendars import repository as repo
from c42.resources.calendars import service
from c42.resources.calendars.schemas import CalendarFields
from c42.resources.deps import SessionDep

router = APIRouter(prefix="/api/v2/calendars", tags=["calendars"])


def serialize(row: Any, permission: int) -> dict[str, Any]:
    if row.deleted_at is not None or not permission:
        return {"id": row.id, "permission": NAMES[permission or 0]}
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "category": row.category,
        "color": row.color,
        "icon": row.icon,
        "logo": row.logo,
        "calendar_type": row.calendar_type,
        "service_id": row.service_id,
        "created": common.fmt_dt(row.created),
        "modified": common.fmt_dt(row.modified),
        "creator": row.creator_id,
        "sync_token": row.sync_token,
        "permission": NAMES[permission],
    }


@router.get("/")
def list_calendars(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    ids: str | None = None,
    service_ids: str | None = None,
    categories: str | None = None,
) -> Response:
    token = current_sync_token(session)
    rows, count = repo.list_page(
        session,
        subject,
        ids=common.bracket_array(ids, "ids"),
        service_ids=common.bracket_array(service_ids, "service_ids"),
        categories=common.bracket_array(categories, "categories", ids=False),
        sync_token=sync_token,
        limit=limit,
        offset=offset,
    )
    return common.envelope([serialize(r, r.permission) for r in rows], count, offset, token)


def _respond(session: SessionDep, subject: Reader, calendar_id: str, status: int = 200) -> Response:
    row, permission = authorize_calendar(session, subject, calendar_id, Action.READ)
    return common.one(serialize(row, permission), current_sync_token(session), status)


@router.post("/", status_code=201)
def create_calendar(subject: Writer, session: SessionDep, body: CalendarFields) -> Response:
    calendar_id = service.create(session, subject, body)
    session.flush()
    return _respond(session, subject, calendar_id, 201)


@router.get("/{id}/")
def get_calendar(subject: Reader, session: SessionDep, id: str) -> Response:
    return _respond(session, subject, common.check_id(id, "Calendar"))


@router.patch("/{id}/")
def change_calendar(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: CalendarFields,
) -> Response:
    service.change(session, subject, common.check_id(id, "Calendar"), body)
    return _respond(session, subject, id)


@router.delete("/{id}/", status_code=204)
def delete_calendar(subject: Writer, session: SessionDep, id: str) -> Response:
    service.remove(session, subject, common.check_id(id, "Calendar"))
    return Response(status_code=204)
