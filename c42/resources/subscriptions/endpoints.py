"""/api/v2/calendar-subscriptions/ (sharing calendars, accepting shares) and
/api/v2/event-subscriptions/ (who is invited to which event, and their answers)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from c42.auth.subject import AuthSubject
from c42.db import current_sync_token
from c42.errors import InvalidRequest
from c42.resources import common
from c42.resources.auth import Reader, Writer
from c42.resources.deps import SessionDep
from c42.resources.subscriptions import repository as repo
from c42.resources.subscriptions import service
from c42.resources.subscriptions.kinds import CALENDAR, EVENT, Kind
from c42.resources.subscriptions.schemas import (
    RSVP_STATUSES,
    CalendarShare,
    CalendarSubscriptionChange,
    EventInvitation,
    EventSubscriptionChange,
)
from c42.resources.subscriptions.serialize import subscription

calendar_router = APIRouter(
    prefix="/api/v2/calendar-subscriptions", tags=["calendar-subscriptions"]
)
event_router = APIRouter(prefix="/api/v2/event-subscriptions", tags=["event-subscriptions"])


def _page(
    session: Session,
    kind: Kind,
    subject: AuthSubject,
    filters: repo.Filters,
    limit: int,
    offset: int,
) -> Response:
    token = current_sync_token(session)
    rows, count = repo.list_page(session, kind, subject, filters, limit, offset)
    return common.envelope([subscription(kind, r) for r in rows], count, offset, token)


def _one(session: Session, kind: Kind, row: Any, status: int = 200) -> Response:
    return common.one(subscription(kind, row), current_sync_token(session), status)


def _id(kind: Kind, id: str) -> str:
    return common.check_id(id, kind.what)


@calendar_router.get("/")
def list_calendar_subscriptions(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    calendar_ids: str | None = None,
    subscriber_ids: str | None = None,
) -> Response:
    filters = repo.Filters(
        target_ids=common.bracket_array(calendar_ids, "calendar_ids"),
        subscriber_ids=common.bracket_array(subscriber_ids, "subscriber_ids"),
        sync_token=sync_token,
    )
    return _page(session, CALENDAR, subject, filters, limit, offset)


@calendar_router.post("/", status_code=201)
def share_calendar(subject: Writer, session: SessionDep, body: CalendarShare) -> Response:
    new_id = service.share(
        session, CALENDAR, subject, body.calendar_id, body.subscriber, body.permission
    )
    return _one(session, CALENDAR, service.get(session, CALENDAR, subject, new_id), 201)


@calendar_router.get("/{id}/")
def get_calendar_subscription(subject: Reader, session: SessionDep, id: str) -> Response:
    return _one(session, CALENDAR, service.get(session, CALENDAR, subject, _id(CALENDAR, id)))


@calendar_router.patch("/{id}/")
def change_calendar_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: CalendarSubscriptionChange,
) -> Response:
    row = service.change_calendar(session, subject, _id(CALENDAR, id), body)
    return _one(session, CALENDAR, row)


@calendar_router.delete("/{id}/", status_code=204)
def delete_calendar_subscription(subject: Writer, session: SessionDep, id: str) -> Response:
    service.remove(session, CALENDAR, subject, _id(CALENDAR, id))
    return Response(status_code=204)


@event_router.get("/")
def list_event_subscriptions(
    subject: Reader,
    session: SessionDep,
    limit: common.Limit = common.DEFAULT_LIMIT,
    offset: common.Offset = 0,
    sync_token: common.SyncToken = None,
    event_ids: str | None = None,
    subscriber_ids: str | None = None,
    service_ids: str | None = None,
    rsvp_status: str | None = None,
) -> Response:
    filters = repo.Filters(
        target_ids=common.bracket_array(event_ids, "event_ids"),
        subscriber_ids=common.bracket_array(subscriber_ids, "subscriber_ids"),
        service_ids=common.bracket_array(service_ids, "service_ids"),
        sync_token=sync_token,
    )
    if rsvp_status is not None:
        statuses = common.bracket_array(rsvp_status, "rsvp_status", ids=False) or []
        if not set(statuses) <= RSVP_STATUSES:
            raise InvalidRequest("Unknown rsvp_status.", fields={"rsvp_status": "unknown"})
        filters = replace(filters, rsvp_statuses=statuses)
    return _page(session, EVENT, subject, filters, limit, offset)


@event_router.post("/", status_code=201)
def invite(subject: Writer, session: SessionDep, body: EventInvitation) -> Response:
    new_id = service.share(
        session,
        EVENT,
        subject,
        body.event_id,
        body.subscriber,
        body.permission,
        is_invitation=body.is_invitation,
        message=body.message,
        rsvp_status="not_replied",
    )
    return _one(session, EVENT, service.get(session, EVENT, subject, new_id), 201)


@event_router.get("/{id}/")
def get_event_subscription(subject: Reader, session: SessionDep, id: str) -> Response:
    return _one(session, EVENT, service.get(session, EVENT, subject, _id(EVENT, id)))


@event_router.patch("/{id}/")
def change_event_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventSubscriptionChange,
) -> Response:
    return _one(session, EVENT, service.change_event(session, subject, _id(EVENT, id), body))


@event_router.put("/{id}/")
def replace_event_subscription(
    subject: Writer,
    session: SessionDep,
    id: str,
    body: EventSubscriptionChange,
) -> Response:
    """C42 compat: PUT takes the same fields as PATCH (a subscription has no other state)."""
    return _one(session, EVENT, service.change_event(session, subject, _id(EVENT, id), body))


@event_router.delete("/{id}/", status_code=204)
def delete_event_subscription(subject: Writer, session: SessionDep, id: str) -> Response:
    service.remove(session, EVENT, subject, _id(EVENT, id))
    return Response(status_code=204)
