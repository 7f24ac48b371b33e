"""When the user behind an `openid` grant logged in, kept per token family so that every
refresh's id_token carries the original `auth_time` (OIDC Core §12.2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from c42.models import OIDCGrant, utcnow


def remember(session: Session, family_id: str, user_id: str, auth_time: datetime) -> None:
    if session.get(OIDCGrant, family_id) is None:
        session.add(
            OIDCGrant(family_id=family_id, user_id=user_id, auth_time=auth_time, created=utcnow())
        )
        session.flush()


def auth_time_of(session: Session, family_id: str) -> datetime | None:
    row = session.get(OIDCGrant, family_id)
    return row.auth_time if row is not None else None
