"""/api/v2/events/ — list, create, read, replace, change, delete."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from starlette.responses import Response

from c42.db import current_sync_token
from c42.errors import NotFound
from c42.resources import common
from c42.resources.auth import Reader, Writer
from c42.resources.deps import SessionDep
from c42.resources.events import repository as repo
from c42.resources.events import serialize, service
from c42.resources.events.schemas import EventFields

router = APIRouter(prefix="/api/v2/events", tags=["events"])
EVENT_TYPES = {"normal", "todo", "time_block", "arrive_by", "depart_from", "route"}


@router.get("/")
def list_events(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    ids: str | None = None,
    service_ids: str | None = None,
    calendar_ids: str | None = None,
    calendar_ids__or: str | None = None,
    event_types: str | None = None,
    order_by: Literal["sync_token", "due", "start"] = "sync_token",
    order_asc: bool = True,
) -> Response:
    types = common.bracket_array(event_types, "event_types", ids=False)
    if types is not None and not set(types) <= EVENT_TYPES:
        raise common.InvalidRequest("Unknown event type.", fields={"event_types": "unknown"})
    filters = repo.EventFilters(
        ids=common.bracket_array(ids, "ids"),
        service_ids=common.bracket_array(service_ids, "service_ids"),
        calendar_ids=common.bracket_array(calendar_ids, "calendar_ids"),
        calendar_ids_or=common.bracket_array(calendar_ids__or, "calendar_ids__or"),
        event_types=types,
        sync_token=sync_token,
        order_by=order_by,
        order_asc=order_asc,
    )
    token = current_sync_token(session)
    rows, count = repo.list_page(session, subject, filters, limit, offset)
    calendars = repo.calendar_ids(session, subject.user_id, [r.id for r in rows])
    data = [serialize.event(r, calendars.get(r.id, [])) for r in rows]
    return common.envelope(data, count, offset, token)


def _respond(session: SessionDep, subject: Reader, event_id: str, status: int = 200) -> Response:
    row = repo.get_one(session, subject, event_id)
    if row is None or row.deleted_at is not None or not row.permission:
        raise NotFound("Event not found.")
    calendars = repo.calendar_ids(session, subject.user_id, [event_id])
    token = current_sync_token(session)
    return common.one(serialize.event(row, calendars.get(event_id, [])), token, status)


@router.post("/", status_code=201)
def create_event(subject: Writer, session: SessionDep, body: EventFields) -> Response:
    event_id = service.create(session, subject, body)
    session.flush()
    return _respond(session, subject, event_id, 201)


@router.get("/{id}/")
def get_event(subject: Reader, session: SessionDep, id: str) -> Response:
    return _respond(session, subject, common.check_id(id, "Event"))


@router.put("/{id}/")
def replace_event(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventFields,
) -> Response:
    service.change(session, subject, common.check_id(id, "Event"), body, replace=True)
    return _respond(session, subject, id)


@router.patch("/{id}/")
def change_event(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventFields,
) -> Response:
    service.change(session, subject, common.check_id(id, "Event"), body, replace=False)
    return _respond(session, subject, id)


@router.delete("/{id}/", status_code=204)
def delete_event(subject: Writer, session: SessionDep, id: str) -> Response:
    service.remove(session, subject, common.check_id(id, "Event"))
    return Response(status_code=204)
