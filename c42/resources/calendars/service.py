"""Creating, changing and deleting calendars."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from c42.access import readable
from c42.access.permissions import Permission
from c42.access.policy import Action, authorize_calendar
from c42.auth.subject import AuthSubject
from c42.db import next_sync_token
from c42.errors import InvalidRequest
from c42.models import new_id, utcnow
from c42.resources.calendars.repository import calendars, cs
from c42.resources.calendars.schemas import CalendarFields


def create(session: Session, subject: AuthSubject, fields: CalendarFields) -> str:
    if fields.name is None:
        raise InvalidRequest("name is required.", fields={"name": "required"})
    values = {k: v for k, v in fields.model_dump(exclude_unset=True).items() if v is not None}
    token = next_sync_token(session)
    now = utcnow()
    calendar_id = new_id()
    session.execute(
        insert(calendars).values(
            id=calendar_id,
            service_id=subject.service_id,
            creator_id=subject.user_id,
            created=now,
            modified=now,
            sync_token=token,
            **values,
        )
    )
    session.execute(
        insert(cs).values(
            id=new_id(),
            calendar_id=calendar_id,
            user_id=subject.user_id,
            permission=Permission.SUBSCRIBED_WRITE,
            actor_id=subject.user_id,
            created=now,
            modified=now,
            sync_token=token,
        )
    )
    return calendar_id


def change(
    session: Session, subject: AuthSubject, calendar_id: str, fields: CalendarFields
) -> None:
    authorize_calendar(session, subject, calendar_id, Action.WRITE)
    values = fields.model_dump(exclude_unset=True)
    if "name" in values and values["name"] is None:
        raise InvalidRequest("name cannot be null.", fields={"name": "required"})
    for key in ("description", "category", "color", "icon", "logo"):
        if key in values and values[key] is None:
            values[key] = ""
    if values.get("calendar_type", "x") is None:
        values["calendar_type"] = "private"
    session.execute(
        update(calendars)
        .where(calendars.c.id == calendar_id)
        .values(modified=utcnow(), sync_token=next_sync_token(session), **values)
    )


def remove(session: Session, subject: AuthSubject, calendar_id: str) -> None:
    authorize_calendar(session, subject, calendar_id, Action.WRITE)
    now = utcnow()
    session.execute(
        update(calendars)
        .where(calendars.c.id == calendar_id)
        .values(deleted_at=now, modified=now, sync_token=next_sync_token(session))
    )
    readable.refresh(session, event_ids=readable.in_calendar(calendar_id))
