"""The demo data set: idempotent, so `make run` can call it on every start.

Secrets of the demo (its User Token, its apps' client secrets) are derived from the server's
secret key, so every run prints the same working values without storing them in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42 import accounts
from c42.access import readable
from c42.access.permissions import Permission
from c42.auth import secrets
from c42.db import next_sync_token
from c42.demo_apps import seed_demo_apps
from c42.models import (
    Calendar,
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
    Service,
    User,
    UserToken,
    utcnow,
)

DEMO_EMAIL = "demo@c42.test"
DEMO_PASSWORD = "demo-password-42"
FRIEND_EMAIL = "friend@c42.test"
SERVICE_NAME = "C42 Demo Planner"

# Extra steps (the OAuth apps) register here:
# (session, service, derive, server key) -> dict for the output.
DemoStep = Callable[[Session, Service, Callable[[str, int], str], str], dict[str, Any]]
EXTRA_STEPS: list[DemoStep] = [seed_demo_apps]


def derive(secret_key: str) -> Callable[[str, int], str]:
    def _derive(label: str, hex_chars: int) -> str:
        digest = hmac.new(secret_key.encode(), f"c42-demo:{label}".encode(), hashlib.sha256)
        return digest.hexdigest()[:hex_chars]

    return _derive


def is_empty(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is None


def seed(session: Session, secret_key: str) -> dict[str, Any]:
    make = derive(secret_key)
    demo = accounts.find_user(session, DEMO_EMAIL) or accounts.create_user(
        session, DEMO_EMAIL, DEMO_PASSWORD, first_name="Demo", last_name="User"
    )
    friend = accounts.find_user(session, FRIEND_EMAIL) or accounts.create_user(
        session, FRIEND_EMAIL, DEMO_PASSWORD, first_name="Friend", last_name="User"
    )
    service = session.scalar(select(Service).where(Service.name == SERVICE_NAME))
    if service is None:
        service = accounts.create_service(session, SERVICE_NAME, admin=demo)
        service.description = "The demo service that owns the demo apps."
        _seed_planning(session, demo, friend, service)

    token = make("user-token", 40)
    if (
        session.scalar(select(UserToken.id).where(UserToken.digest == secrets.digest(token)))
        is None
    ):
        session.add(UserToken(user_id=demo.id, digest=secrets.digest(token), name="demo"))
    output: dict[str, Any] = {
        "user": {"id": demo.id, "email": demo.email, "password": DEMO_PASSWORD, "token": token},
        "friend": {"id": friend.id, "email": friend.email, "password": DEMO_PASSWORD},
        "service": {"id": service.id, "name": service.name},
        "apps": {},
    }
    for step in EXTRA_STEPS:
        output["apps"].update(step(session, service, make, secret_key))
    session.flush()
    return output


def _seed_planning(session: Session, demo: User, friend: User, service: Service) -> None:
    token = next_sync_token(session)
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    personal = Calendar(name="Personal", creator_id=demo.id, sync_token=token, category="personal")
    team = Calendar(
        name="Team", creator_id=demo.id, sync_token=token, category="work", service_id=service.id
    )
    session.add_all([personal, team])
    session.flush()
    session.add_all(
        [
            CalendarSubscription(
                calendar_id=personal.id,
                user_id=demo.id,
                permission=Permission.SUBSCRIBED_WRITE,
                sync_token=token,
            ),
            CalendarSubscription(
                calendar_id=team.id,
                user_id=demo.id,
                permission=Permission.SUBSCRIBED_WRITE,
                sync_token=token,
            ),
            CalendarSubscription(
                calendar_id=team.id,
                user_id=friend.id,
                permission=Permission.SUBSCRIBED_READ,
                actor_id=demo.id,
                sync_token=token,
            ),
        ]
    )
    plans = [
        ("Dentist", personal, 1, None),
        ("Gym", personal, 2, None),
        ("Team stand-up", team, 1, service.id),
        ("Planning review", team, 3, service.id),
        ("Release party", team, 7, service.id),
    ]
    for title, calendar, days, service_id in plans:
        start = now + timedelta(days=days, hours=9)
        event = Event(
            event_type="normal",
            title=title,
            start=start,
            end=start + timedelta(hours=1),
            start_timezone="Europe/Amsterdam",
            end_timezone="Europe/Amsterdam",
            creator_id=demo.id,
            service_id=service_id,
            sync_token=token,
        )
        session.add(event)
        session.flush()
        session.add(EventCalendar(event_id=event.id, calendar_id=calendar.id))
        session.add(
            EventSubscription(
                event_id=event.id,
                user_id=demo.id,
                permission=Permission.SUBSCRIBED_WRITE,
                rsvp_status="attending",
                actor_id=demo.id,
                sync_token=token,
            )
        )
    todo = Event(
        event_type="todo",
        title="Book flights",
        due=now + timedelta(days=5),
        creator_id=demo.id,
        sync_token=token,
    )
    session.add(todo)
    session.flush()
    session.add(EventCalendar(event_id=todo.id, calendar_id=personal.id))
    session.add(
        EventSubscription(
            event_id=todo.id,
            user_id=demo.id,
            permission=Permission.SUBSCRIBED_WRITE,
            sync_token=token,
        )
    )
    session.flush()
    for user in (demo, friend):
        readable.refresh(session, user_id=user.id)


def find_demo_user(session: Session) -> User | None:
    return accounts.find_user(session, DEMO_EMAIL)
