"""Storage of authorization codes, keyed by the code's SHA-256 digest (never the code).

A code is single-use: `claim` marks it used with one conditional UPDATE, so of any number of
concurrent redemptions exactly one sees `rowcount == 1` (SQLite and PostgreSQL alike). The used
row is kept until it expires so that a replay can be recognised and punished.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from c42.auth import secrets
from c42.models import OAuthAuthorizationCode, utcnow

_c = OAuthAuthorizationCode.__table__


def save(
    session: Session,
    *,
    code: str,
    app_id: str,
    user_id: str,
    redirect_uri: str,
    redirect_uri_sent: bool,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
    lifetime: int,
    nonce: str | None = None,
    auth_time: datetime | None = None,
    dpop_jkt: str | None = None,
) -> None:
    """`nonce` and `auth_time` (the login's time) go into the code's id_token (SPEC §10);
    `dpop_jkt` binds the code to a DPoP key (RFC 9449 §10)."""
    now = utcnow()
    session.add(
        OAuthAuthorizationCode(
            code_digest=secrets.digest(code),
            app_id=app_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            redirect_uri_sent=redirect_uri_sent,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            created=now,
            expires_at=now + timedelta(seconds=lifetime),  # RFC 6749 §4.1.2: short-lived
            nonce=nonce,
            auth_time=auth_time,
            dpop_jkt=dpop_jkt,
        )
    )
    session.flush()


def find(session: Session, code: str, *, lock: bool = False) -> OAuthAuthorizationCode | None:
    """`lock`: take the row lock first (PostgreSQL), so that concurrent redemptions of one code
    queue here, before they hold any other lock (see `tokens.by_refresh`)."""
    query = select(OAuthAuthorizationCode).where(
        OAuthAuthorizationCode.code_digest == secrets.digest(code)
    )
    return session.scalar(query.with_for_update() if lock else query)


def claim(session: Session, code_id: str, now: datetime | None = None) -> bool:
    """Mark the code used if it is still unused and unexpired; True for the one winner."""
    now = now or utcnow()
    result = session.execute(
        update(OAuthAuthorizationCode)
        .where(_c.c.id == code_id, _c.c.used_at.is_(None), _c.c.expires_at > now)
        .values(used_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def retire_unused(session: Session, app_id: str, user_id: str) -> None:
    """A revoked authorisation also ends the codes not yet redeemed."""
    now = utcnow()
    session.execute(
        update(OAuthAuthorizationCode)
        .where(_c.c.app_id == app_id, _c.c.user_id == user_id, _c.c.used_at.is_(None))
        .values(used_at=now)
    )
