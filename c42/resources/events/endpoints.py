"""/api/v2/events/ — list, create, read, replace, change, delete."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from c42 import compiled
from c42.auth.subject import AuthSubject
from c42.errors import InvalidRequest, NotFound
from c42.resources import common, query
from c42.resources.auth import Reader, Writer
from c42.resources.deps import SessionDep, get_db
from c42.resources.events import repository, serialize, service
from c42.resources.events.repository import EventFilters, split_ids
from c42.resources.events.schemas import EventFields, EventType
from c42.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v2/events", tags=["events"])
EVENT_TYPES = frozenset(get_args(EventType))


_LIST_DOCS = query.openapi_params(
    ids="[id,...] only these events",
    service_ids="[id,...] events of these services",
    calendar_ids="[id,...] events in all of these calendars",
    calendar_ids__or="[id,...] events in any of these calendars",
    event_types="[type,...] e.g. [normal,todo]",
    order_by="sync_token (default), due or start",
    order_asc="true (default) or false",
)
ORDER_BY = frozenset({"sync_token", "due", "start"})


@router.get("/", openapi_extra=_LIST_DOCS)
async def list_events(request: Request, subject: Reader) -> Response:
    params = request.query_params
    paging = query.page(params)
    limit, offset = paging.limit, paging.offset
    types = common.bracket_array(params.get("event_types"), "event_types", ids=False)
    if types is not None and not set(types) <= EVENT_TYPES:
        raise InvalidRequest("Unknown event type.", fields={"event_types": "unknown"})
    filters = EventFilters(
        ids=common.bracket_array(params.get("ids"), "ids"),
        service_ids=common.bracket_array(params.get("service_ids"), "service_ids"),
        calendar_ids=common.bracket_array(params.get("calendar_ids"), "calendar_ids"),
        calendar_ids_or=common.bracket_array(params.get("calendar_ids__or"), "calendar_ids__or"),
        event_types=types,
        sync_token=paging.sync_token,
        order_by=query.choice(params, "order_by", ORDER_BY, "sync_token"),
        # A sync reads newest first by default, so that offset paging never skips a change
        # made meanwhile (it moves to the front; see the README on synchronising).
        order_asc=query.boolean(params, "order_asc", paging.sync_token is None),
    )
    found = await get_db(request).hot_read(repository.list_page(subject, filters, limit, offset))
    data = [serialize.event(r, split_ids(r["calendar_ids"])) for r in found.rows]
    return common.envelope(data, found.total, offset, found.sync_token)


def _one(found: tuple[dict[str, Any] | None, int], status: int = 200) -> Response:
    """The event as the caller sees it, with the current sync token (404 if not visible)."""
    row, sync_token = found
    if row is None:
        raise NotFound("Event not found.")
    return common.one(serialize.event(row, split_ids(row["calendar_ids"])), sync_token, status)


@router.get("/{id}/")
async def get_event(request: Request, subject: Reader, id: str) -> Response:
    event_id = common.check_id(id, "Event")
    return _one(await get_db(request).hot_read(repository.get_one(subject, event_id)))


def _respond(
    request: Request, session: Session, subject: AuthSubject, event_id: str, status: int = 200
) -> Response:
    """The event as the caller now sees it, read inside the write transaction."""
    session.flush()
    return _one(
        compiled.run(UnitOfWork.joining(session), repository.get_one(subject, event_id)), status
    )


@router.post("/", status_code=201)
def create_event(
    request: Request, subject: Writer, session: SessionDep, body: EventFields
) -> Response:
    event_id = service.create(session, subject, body)
    return _respond(request, session, subject, event_id, 201)


@router.put("/{id}/")
def replace_event(
    request: Request,
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventFields,
) -> Response:
    service.change(session, subject, common.check_id(id, "Event"), body, replace=True)
    return _respond(request, session, subject, id)


@router.patch("/{id}/")
def change_event(
    request: Request,
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventFields,
) -> Response:
    service.change(session, subject, common.check_id(id, "Event"), body, replace=False)
    return _respond(request, session, subject, id)


@router.delete("/{id}/", status_code=204)
def delete_event(subject: Writer, session: SessionDep, id: str) -> Response:
    service.remove(session, subject, common.check_id(id, "Event"))
    return Response(status_code=204)
