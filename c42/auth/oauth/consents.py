"""Consent records (STYLE §9): one row per (app, user) with the scopes the user allowed.

They drive remembered consent for confidential apps and the "apps you authorised" page;
consent is never inferred from live tokens. The authorization code flow (flow.py) and the
device grant's page (web/device.py) record an Allow here alike; the device page still asks
every time (RFC 8628 §5.4), so for it the record serves the list, Disconnect and the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import scopes
from c42.auth.oauth import codes, device, tokens
from c42.models import OAuthApp, OAuthConsent, Service, utcnow


@dataclass(frozen=True)
class AuthorisedApp:
    app_id: str
    app_name: str
    service_name: str
    scopes: tuple[str, ...]
    since: datetime


def covers(session: Session, app_id: str, user_id: str, scope: str) -> bool:
    """Whether the user already allowed these scopes (or wider ones) to this app."""
    granted = session.scalar(
        select(OAuthConsent.scope).where(
            OAuthConsent.app_id == app_id, OAuthConsent.user_id == user_id
        )
    )
    return granted is not None and scopes.parse(scope) <= scopes.parse(granted)


def remember(session: Session, app_id: str, user_id: str, scope: str) -> None:
    """Record an Allow: the consent grows to the union of what was allowed so far."""
    row = session.scalar(
        select(OAuthConsent).where(OAuthConsent.app_id == app_id, OAuthConsent.user_id == user_id)
    )
    now = utcnow()
    if row is None:
        session.add(OAuthConsent(app_id=app_id, user_id=user_id, scope=scope, created=now))
    else:
        row.scope = scopes.join(scopes.parse(row.scope) | scopes.parse(scope))
        row.modified = now
    session.flush()
    audit.record(
        session,
        audit.Types.CONSENT_GIVEN,
        user_id=user_id,
        actor_id=user_id,
        client_id=audit.client_of(session, app_id),
        scope=scope,
    )


def forget(session: Session, app_id: str, user_id: str) -> bool:
    result = session.execute(
        delete(OAuthConsent).where(OAuthConsent.app_id == app_id, OAuthConsent.user_id == user_id)
    )
    forgotten = bool(getattr(result, "rowcount", 0))
    if forgotten:
        audit.record(
            session,
            audit.Types.CONSENT_WITHDRAWN,
            user_id=user_id,
            actor_id=user_id,
            client_id=audit.client_of(session, app_id),
        )
    return forgotten


def disconnect(session: Session, app_id: str, user_id: str) -> list[str]:
    """End an app's access for a user (the user's Disconnect, an operator's revoke): the
    consent goes, unredeemed codes end (allowed device codes too), every token pair is
    revoked. Returns the revoked access digests, to evict from caches after commit."""
    forget(session, app_id, user_id)
    codes.retire_unused(session, app_id, user_id)
    device.withdraw(session, app_id, user_id)
    return tokens.revoke_for_app_user(session, app_id, user_id)


def authorised_apps(session: Session, user_id: str) -> list[AuthorisedApp]:
    rows = session.execute(
        select(OAuthConsent, OAuthApp.name, Service.name)
        .join(OAuthApp, OAuthApp.id == OAuthConsent.app_id)
        .join(Service, Service.id == OAuthApp.service_id)
        .where(OAuthConsent.user_id == user_id)
        .order_by(OAuthConsent.created, OAuthApp.name)
    ).all()
    return [
        AuthorisedApp(
            consent.app_id,
            app_name,
            service_name,
            tuple(sorted(scopes.parse(consent.scope))),
            consent.created,
        )
        for consent, app_name, service_name in rows
    ]
