"""Storage of OAuth token pairs, keyed by SHA-256 digests (the database never holds a usable
token), and the security event log entries their misuse writes.

Every function that revokes returns the access-token digests it revoked, so the caller can
evict them from the credential cache once the transaction has committed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, func, select, update
from sqlalchemy.orm import Session

from c42.auth import secrets
from c42.models import OAuthToken, SecurityEvent, new_id, utcnow

log = logging.getLogger("c42.security")
_t = OAuthToken.__table__


def insert(
    session: Session,
    *,
    app_id: str,
    user_id: str,
    access_token: str,
    refresh_token: str | None,
    scope: str,
    family_id: str | None,
    code_id: str | None,
    access_lifetime: int,
    refresh_lifetime: int,
) -> OAuthToken:
    now = utcnow()
    row = OAuthToken(
        app_id=app_id,
        user_id=user_id,
        access_digest=secrets.digest(access_token),
        refresh_digest=secrets.digest(refresh_token) if refresh_token else None,
        scope=scope,
        family_id=family_id or new_id(),
        code_id=code_id,
        issued_at=now,
        access_expires_at=now + timedelta(seconds=access_lifetime),
        refresh_expires_at=now + timedelta(seconds=refresh_lifetime) if refresh_token else None,
    )
    session.add(row)
    session.flush()
    return row


def by_access(session: Session, access_token: str) -> OAuthToken | None:
    digest = secrets.digest(access_token)
    return session.scalar(select(OAuthToken).where(OAuthToken.access_digest == digest))


def by_refresh(session: Session, refresh_token: str, *, lock: bool = False) -> OAuthToken | None:
    """`lock`: take the row lock first (PostgreSQL), so that every request presenting the same
    refresh token queues here, before it holds any other lock: its claim and its punishment of a
    reuse then never deadlock with another's."""
    digest = secrets.digest(refresh_token)
    query = select(OAuthToken).where(OAuthToken.refresh_digest == digest)
    return session.scalar(query.with_for_update() if lock else query)


def claim_rotation(session: Session, token_id: str) -> bool:
    """Mark a refresh token used (rotated) if it still is live; True for the one winner of
    any number of concurrent refreshes (one conditional UPDATE, checked by rowcount)."""
    now = utcnow()
    result = session.execute(
        update(OAuthToken)
        .where(
            _t.c.id == token_id,
            _t.c.rotated_at.is_(None),
            _t.c.refresh_revoked_at.is_(None),
            _t.c.refresh_expires_at > now,
        )
        .values(rotated_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def revoke_access(session: Session, token_id: str) -> list[str]:
    return _revoke(session, _t.c.id == token_id, refresh=False)


def revoke_family(session: Session, family_id: str) -> list[str]:
    return _revoke(session, _t.c.family_id == family_id)


def revoke_issued_from_code(session: Session, code_id: str) -> list[str]:
    """RFC 6749 §4.1.2: a reused code revokes every token issued from it (rotations too,
    which inherit the code's id)."""
    return _revoke(session, _t.c.code_id == code_id)


def revoke_for_app_user(session: Session, app_id: str, user_id: str) -> list[str]:
    return _revoke(session, and_(_t.c.app_id == app_id, _t.c.user_id == user_id))


def revoke_for_user(session: Session, user_id: str) -> list[str]:
    return _revoke(session, _t.c.user_id == user_id)


def enforce_limits(
    session: Session, app_id: str, user_id: str, per_app_user: int, per_user: int
) -> None:
    """Past a limit of live refresh tokens, the oldest stop working (SPEC §5.3)."""
    now = utcnow()
    live = and_(
        _t.c.user_id == user_id,
        _t.c.refresh_digest.is_not(None),
        _t.c.refresh_revoked_at.is_(None),
        _t.c.rotated_at.is_(None),
        _t.c.refresh_expires_at > now,
    )
    for_app = _t.c.app_id == app_id
    total, of_app = session.execute(
        select(func.count(), func.count().filter(for_app)).where(live)
    ).one()  # the common case: under both limits, one query
    for condition, limit, count in (
        (and_(live, for_app), per_app_user, of_app),
        (live, per_user, total),
    ):
        if count <= limit:
            continue
        excess = list(
            session.scalars(
                select(_t.c.id)
                .where(condition)
                .order_by(_t.c.issued_at.desc(), _t.c.id.desc())
                .offset(limit)
            )
        )
        if excess:
            session.execute(
                update(OAuthToken).where(_t.c.id.in_(excess)).values(refresh_revoked_at=now)
            )


def record_event(
    session: Session, kind: str, *, user_id: str | None, app_id: str | None, **detail: Any
) -> None:
    """Append to security_events and log it (ids only: never a token, code or secret)."""
    session.add(SecurityEvent(kind=kind, user_id=user_id, app_id=app_id, detail=detail))
    log.warning("security event %s user=%s app=%s %s", kind, user_id, app_id, detail)


def _revoke(session: Session, condition: ColumnElement[bool], refresh: bool = True) -> list[str]:
    """Revoke the matching rows. They are locked first, in id order, so that concurrent
    revocations of overlapping sets (e.g. 49 losers of a refresh race punishing one family)
    queue instead of deadlocking on PostgreSQL (SQLite's write lock already serialises)."""
    now = utcnow()
    rows = session.execute(
        select(_t.c.id, _t.c.access_digest, _t.c.access_revoked_at)
        .where(condition)
        .order_by(_t.c.id)
        .with_for_update()
    ).all()
    if not rows:
        return []
    values: dict[str, Any] = {"access_revoked_at": func.coalesce(_t.c.access_revoked_at, now)}
    if refresh:
        values["refresh_revoked_at"] = func.coalesce(_t.c.refresh_revoked_at, now)
    session.execute(
        update(OAuthToken).where(_t.c.id.in_([row.id for row in rows])).values(**values)
    )
    return [row.access_digest for row in rows if row.access_revoked_at is None]
