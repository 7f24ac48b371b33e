"""Storage of OAuth token pairs, keyed by SHA-256 digests (the database never holds a usable
token), and the security event log entries their misuse writes.

The statements of the token endpoint's hot path (look-up, rotation claim, insert, limit count)
are compiled once and run on the unit of work's DB-API connection (`c42.compiled`): through
the ORM they cost several times the token endpoint's whole budget. Rows come back as
`TokenRow` records.

Every function that revokes returns the access-token digests it revoked, so the caller can
evict them from the credential cache once the transaction has committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, func, select, update
from sqlalchemy import insert as sql_insert

from c42 import compiled
from c42.auth import secrets
from c42.models import OAuthToken, User, new_id, utcnow
from c42.models.users import is_open
from c42.unit_of_work import Executes, UnitOfWork

_t = OAuthToken.__table__
_users = User.__table__


class TokenRow(NamedTuple):
    """One oauth_tokens row and whether its user may still use it (built by column name)."""

    id: str
    app_id: str
    user_id: str
    access_digest: str
    refresh_digest: str | None
    scope: str
    family_id: str
    code_id: str | None
    issued_at: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    access_revoked_at: datetime | None
    refresh_revoked_at: datetime | None
    rotated_at: datetime | None
    last_used: datetime | None
    dpop_jkt: (
        str | None
    )  # RFC 9449: the key the access (and a public app's refresh) token is bound to
    user_usable: bool  # the user's standing is in OPEN (c42.models.users)


def _select_by(column: ColumnElement[Any], *, lock: bool) -> Any:
    query = (
        select(*_t.c, is_open(_users).label("user_usable"))
        .join_from(_t, _users, _users.c.id == _t.c.user_id)
        .where(column == bindparam("digest"))
    )
    return query.with_for_update(of=_t) if lock else query


def _one(work: UnitOfWork, key: str, build: Any, digest: str) -> TokenRow | None:
    rows = compiled.statement(work, key, build).records(work, {"digest": digest}, TokenRow)
    return rows[0] if rows else None


def insert(
    work: UnitOfWork,
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
    dpop_jkt: str | None = None,
) -> str:
    """Store a new pair (digests only), bound to the DPoP key `dpop_jkt` if any; returns its
    id."""
    now = utcnow()
    row = {
        "id": new_id(),
        "app_id": app_id,
        "user_id": user_id,
        "access_digest": secrets.digest(access_token),
        "refresh_digest": secrets.digest(refresh_token) if refresh_token else None,
        "scope": scope,
        "family_id": family_id or new_id(),
        "code_id": code_id,
        "issued_at": now,
        "access_expires_at": now + timedelta(seconds=access_lifetime),
        "refresh_expires_at": now + timedelta(seconds=refresh_lifetime) if refresh_token else None,
        "access_revoked_at": None,
        "refresh_revoked_at": None,
        "rotated_at": None,
        "last_used": None,
        "dpop_jkt": dpop_jkt,
    }
    statement = compiled.statement(work, "tokens.insert", _build_insert)
    statement.rowcount(work, row)
    return str(row["id"])


def _build_insert() -> Any:
    return sql_insert(_t).values({name: bindparam(name) for name in _t.c.keys()})  # noqa: SIM118


def by_access(work: UnitOfWork, access_token: str) -> TokenRow | None:
    digest = secrets.digest(access_token)
    return _one(work, "tokens.by_access", _build_by_access, digest)


def by_refresh(work: UnitOfWork, refresh_token: str, *, lock: bool = False) -> TokenRow | None:
    """`lock`: take the row lock first (PostgreSQL), so that every request presenting the same
    refresh token queues here, before it holds any other lock: its claim and its punishment of a
    reuse then never deadlock with another's."""
    digest = secrets.digest(refresh_token)
    if lock:
        return _one(work, "tokens.by_refresh.lock", _build_by_refresh_locked, digest)
    return _one(work, "tokens.by_refresh", _build_by_refresh, digest)


def _build_by_access() -> Any:
    return _select_by(_t.c.access_digest, lock=False)


def _build_by_refresh() -> Any:
    return _select_by(_t.c.refresh_digest, lock=False)


def _build_by_refresh_locked() -> Any:
    return _select_by(_t.c.refresh_digest, lock=True)


def claim_rotation(work: UnitOfWork, token_id: str) -> bool:
    """Mark a refresh token used (rotated) if it still is live; True for the one winner of
    any number of concurrent refreshes (one conditional UPDATE, checked by rowcount)."""
    statement = compiled.statement(work, "tokens.claim_rotation", _build_claim_rotation)
    params = {"token_id": token_id, "now": utcnow()}
    return statement.rowcount(work, params) == 1


def _build_claim_rotation() -> Any:
    now = bindparam("now", type_=_t.c.rotated_at.type)
    return (
        update(_t)
        .where(
            _t.c.id == bindparam("token_id"),
            _t.c.rotated_at.is_(None),
            _t.c.refresh_revoked_at.is_(None),
            _t.c.refresh_expires_at > now,
        )
        .values(rotated_at=now)
    )


def revoke_access(work: Executes, token_id: str) -> list[str]:
    return _revoke(work, _t.c.id == token_id, refresh=False)


def revoke_family(work: Executes, family_id: str) -> list[str]:
    return _revoke(work, _t.c.family_id == family_id)


def revoke_issued_from_code(work: Executes, code_id: str) -> list[str]:
    """RFC 6749 §4.1.2: a reused code revokes every token issued from it (rotations too,
    which inherit the code's id)."""
    return _revoke(work, _t.c.code_id == code_id)


def revoke_for_app_user(work: Executes, app_id: str, user_id: str) -> list[str]:
    return _revoke(work, and_(_t.c.app_id == app_id, _t.c.user_id == user_id))


def revoke_for_user(work: Executes, user_id: str) -> list[str]:
    return _revoke(work, _t.c.user_id == user_id)


def enforce_limits(
    work: UnitOfWork, app_id: str, user_id: str, per_app_user: int, per_user: int
) -> None:
    """Past a limit of live refresh tokens, the oldest stop working (SPEC §5.3)."""
    now = utcnow()
    statement = compiled.statement(work, "tokens.count_live", _build_count_live)
    params = {"user_id": user_id, "app_id": app_id, "now": now}
    [(total, of_app)] = statement.rows(work, params)
    if of_app <= per_app_user and total <= per_user:
        return  # the common case: under both limits, one query
    live = and_(_t.c.user_id == user_id, _live(now))
    for condition, limit, count in (
        (and_(live, _t.c.app_id == app_id), per_app_user, of_app),
        (live, per_user, total),
    ):
        if count <= limit:
            continue
        excess = list(
            work.scalars(
                select(_t.c.id)
                .where(condition)
                .order_by(_t.c.issued_at.desc(), _t.c.id.desc())
                .offset(limit)
            )
        )
        if excess:
            work.execute(update(_t).where(_t.c.id.in_(excess)).values(refresh_revoked_at=now))


def is_live(row: TokenRow, now: datetime) -> bool:
    """Both tokens of the pair still work: not rotated, revoked or expired; the user usable."""
    return (
        row.user_usable
        and row.rotated_at is None
        and row.refresh_revoked_at is None
        and row.access_revoked_at is None
        and row.refresh_expires_at is not None
        and row.refresh_expires_at > now
        and row.access_expires_at > now
    )


def _live(now: Any) -> ColumnElement[bool]:
    return and_(
        _t.c.refresh_digest.is_not(None),
        _t.c.refresh_revoked_at.is_(None),
        _t.c.rotated_at.is_(None),
        _t.c.refresh_expires_at > now,
    )


def _build_count_live() -> Any:
    now = bindparam("now", type_=_t.c.refresh_expires_at.type)
    for_app = _t.c.app_id == bindparam("app_id")
    live = and_(_t.c.user_id == bindparam("user_id"), _live(now))
    return select(func.count(), func.count().filter(for_app)).where(live)


def _revoke(work: Executes, condition: ColumnElement[bool], refresh: bool = True) -> list[str]:
    """Revoke the matching rows. They are locked first, in id order, so that concurrent
    revocations of overlapping sets (e.g. 49 losers of a refresh race punishing one family)
    queue instead of deadlocking on PostgreSQL (SQLite's write lock already serialises)."""
    now = utcnow()
    rows = work.execute(
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
    work.execute(update(OAuthToken).where(_t.c.id.in_([row.id for row in rows])).values(**values))
    return [row.access_digest for row in rows if row.access_revoked_at is None]
