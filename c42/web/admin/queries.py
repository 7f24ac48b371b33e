"""What the console reads (its read model): users by address, a user's credentials and OAuth
grants per app, services with their people and apps. Reads only; changes go through the
domain functions (c42.accounts, c42.auth.credentials, c42.auth.oauth.apps and consents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from c42.auth import credentials
from c42.models import (
    ActionToken,
    OAuthApp,
    OAuthConsent,
    OAuthToken,
    Service,
    ServiceSubscription,
    User,
    UserToken,
    utcnow,
)

PAGE = 50


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_users(session: Session, email_contains: str) -> list[User]:
    query = select(User).where(User.sandbox_service_id.is_(None))
    if email_contains:
        pattern = like_pattern(email_contains.strip().lower())
        query = query.where(func.lower(User.email).like(pattern, escape="\\"))
    return list(session.scalars(query.order_by(User.email).limit(PAGE)))


@dataclass(frozen=True)
class Grant:
    """A user's OAuth grant of one app: its live token pairs taken together."""

    app_id: str
    app_name: str
    client_id: str
    scope: str
    created: datetime | None
    last_used: datetime | None
    expires: datetime | None
    live_pairs: int


def grants(session: Session, user_id: str) -> list[Grant]:
    now = utcnow()
    t = OAuthToken
    live = (t.access_revoked_at.is_(None) & (t.access_expires_at > now)) | (
        t.refresh_revoked_at.is_(None) & t.rotated_at.is_(None) & (t.refresh_expires_at > now)
    )
    rows = session.execute(
        select(
            OAuthApp.id,
            OAuthApp.name,
            OAuthApp.client_id,
            func.min(t.issued_at),
            func.max(t.last_used),
            func.max(func.coalesce(t.refresh_expires_at, t.access_expires_at)),
            func.count(),
        )
        .join(OAuthApp, OAuthApp.id == t.app_id)
        .where(t.user_id == user_id, live)
        .group_by(OAuthApp.id, OAuthApp.name, OAuthApp.client_id)
        .order_by(OAuthApp.name)
    ).all()
    scopes = dict(
        session.execute(
            select(OAuthConsent.app_id, OAuthConsent.scope).where(OAuthConsent.user_id == user_id)
        ).all()
    )
    consented = set(scopes) - {row[0] for row in rows}
    found = [
        Grant(row[0], row[1], row[2], scopes.get(row[0], ""), row[3], row[4], row[5], row[6])
        for row in rows
    ]
    if consented:  # a consent without live tokens is still a grant the user can be asked about
        for app in session.scalars(select(OAuthApp).where(OAuthApp.id.in_(consented))):
            found.append(
                Grant(app.id, app.name, app.client_id, scopes[app.id], None, None, None, 0)
            )
    return found


def user_tokens(session: Session, user_id: str) -> list[UserToken]:
    return credentials.live_user_tokens(session, user_id)


def action_tokens(session: Session, user_id: str) -> list[ActionToken]:
    return credentials.live_action_tokens(session, user_id)


def memberships(session: Session, user_id: str) -> list[Any]:
    return list(
        session.execute(
            select(
                Service.id,
                Service.name,
                ServiceSubscription.is_admin,
                ServiceSubscription.is_active,
            )
            .join(Service, Service.id == ServiceSubscription.service_id)
            .where(ServiceSubscription.user_id == user_id)
            .order_by(Service.name)
        ).all()
    )


def services(session: Session) -> list[Any]:
    members = (
        select(func.count())
        .where(
            ServiceSubscription.service_id == Service.id, ServiceSubscription.is_active.is_(True)
        )
        .scalar_subquery()
    )
    app_count = select(func.count()).where(OAuthApp.service_id == Service.id).scalar_subquery()
    return list(
        session.execute(
            select(Service.id, Service.name, Service.created, members, app_count).order_by(
                Service.name
            )
        ).all()
    )


def people(session: Session, service_id: str) -> list[Any]:
    """Real accounts subscribed to the service (admins first)."""
    return list(
        session.execute(
            select(User.id, User.email, ServiceSubscription.is_admin, ServiceSubscription.is_active)
            .join(ServiceSubscription, ServiceSubscription.user_id == User.id)
            .where(ServiceSubscription.service_id == service_id, User.sandbox_service_id.is_(None))
            .order_by(ServiceSubscription.is_admin.desc(), User.email)
        ).all()
    )


def sandbox_users(session: Session, service_id: str) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.sandbox_service_id == service_id).order_by(User.created.desc())
        )
    )


def apps(session: Session, service_id: str | None = None) -> list[Any]:
    query = select(OAuthApp, Service.name).join(Service, Service.id == OAuthApp.service_id)
    if service_id is not None:
        query = query.where(OAuthApp.service_id == service_id)
    return list(session.execute(query.order_by(Service.name, OAuthApp.name)).all())


def app(session: Session, client_id: str) -> OAuthApp | None:
    return session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))


def all_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.name)))
