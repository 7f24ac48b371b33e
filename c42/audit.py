"""The audit log (SPEC §8): the one way to record an audit event.

`record` inserts one `audit_events` row on the caller's connection, so the record commits or
rolls back with the change it records, and writes one log line (`event: "audit"` in JSON logs).
Records carry ids, never a secret: `detail` keys that name a secret are refused.

Where a request came from (the IP — the forwarded one when uvicorn trusts the proxy, since
its proxy-headers middleware rewrites the ASGI `client` — and the user agent) is taken from the
request being served: the outer middleware hands its ASGI scope to `bind` once per request (one
context variable set: nothing is parsed unless a record is written), and threadpool work
started by the request inherits it. The admin console passes an `AuditContext` of its own to
name the staff user as the actor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from c42.logs import get_logger
from c42.models import AuditEvent, OAuthApp, new_id, utcnow
from c42.unit_of_work import UnitOfWork

log = get_logger("c42.audit")
_t = AuditEvent.__table__
_INSERT = insert(_t)
_apps = OAuthApp.__table__
USER_AGENT_MAX = 300
# Words that name a secret: a detail key containing one is a programming error (SPEC §8).
_SECRET_WORDS = ("secret", "password", "digest")


class Types:
    """Every audit event type (SPEC §8), by name."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    REGISTERED = "registered"
    EMAIL_VERIFIED = "email_verified"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET = "password_reset"
    CREDENTIAL_ISSUED = "credential_issued"
    CREDENTIAL_REVOKED = "credential_revoked"
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CODE_REPLAY = "authorization_code_reuse"
    REFRESH_REUSE = "refresh_token_reuse"
    SANDBOX_CREATED = "sandbox_created"
    SANDBOX_MERGED = "sandbox_merged"
    SANDBOX_MERGE_FAILED = "sandbox_merge_failed"
    RATE_LIMITED = "rate_limit_lockout"
    ADMIN_PREFIX = "admin."  # admin.<action>: every action of the console, actor = staff user


# Signs of an attack or a fault: logged as warnings, the rest as info.
_ALARMS = frozenset(
    {Types.CODE_REPLAY, Types.REFRESH_REUSE, Types.RATE_LIMITED, Types.SANDBOX_MERGE_FAILED}
)
ALL_TYPES = tuple(
    value for name, value in vars(Types).items() if name.isupper() and name != "ADMIN_PREFIX"
)


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Where a change came from: the client's IP and user agent, and who acted."""

    ip: str | None = None
    user_agent: str | None = None
    actor_id: str | None = None

    def acting(self, actor_id: str | None) -> AuditContext:
        return replace(self, actor_id=actor_id)


NO_CONTEXT = AuditContext()
_scope: ContextVar[Mapping[str, Any] | None] = ContextVar("c42_audit_scope", default=None)
_actor: ContextVar[str | None] = ContextVar("c42_audit_actor", default=None)


@contextmanager
def acting(actor_id: str) -> Iterator[None]:
    """Within the block, every record names `actor_id` as the actor, whatever the domain
    function that writes it says (the admin console: SPEC §8, the staff user is the actor)."""
    token = _actor.set(actor_id)
    try:
        yield
    finally:
        _actor.reset(token)


def bind(scope: Mapping[str, Any]) -> None:
    """Called once per HTTP request by the outer middleware (this request's task only)."""
    _scope.set(scope)


def from_scope(scope: Mapping[str, Any] | None) -> AuditContext:
    if scope is None:
        return NO_CONTEXT
    client = scope.get("client")
    agent: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            agent = value.decode("latin-1")[:USER_AGENT_MAX]
            break
    return AuditContext(ip=client[0] if client else None, user_agent=agent)


def current() -> AuditContext:
    """The context of the request being served (NO_CONTEXT outside one: the CLI)."""
    return from_scope(_scope.get())


def record(
    session: Session | Connection | UnitOfWork,
    type: str,
    *,
    context: AuditContext | None = None,
    actor_id: str | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
    service_id: str | None = None,
    credential_id: str | None = None,
    **detail: Any,
) -> str:
    """Append one record in the caller's transaction and log it; returns its id."""
    _check_detail(detail)
    ctx = context if context is not None else current()
    row = {
        "id": new_id(),
        "time": utcnow(),
        "type": type,
        "actor_id": _actor.get() or ctx.actor_id or actor_id,
        "user_id": user_id,
        "client_id": client_id,
        "service_id": service_id,
        "credential_id": credential_id,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "detail": detail,
    }
    session.execute(_INSERT, row)
    _log(row)
    return str(row["id"])


def client_of(session: Session | Connection | UnitOfWork, app_id: str | None) -> str | None:
    """The public client_id of an app (records name apps as operators know them)."""
    if app_id is None:
        return None
    statement = select(_apps.c.client_id).where(_apps.c.id == app_id)
    value = session.execute(statement).scalar()
    return str(value) if value is not None else None


def _check_detail(detail: Mapping[str, Any]) -> None:
    for key in detail:
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            raise ValueError(f"audit detail key {key!r} names a secret")  # never stored


def _log(row: Mapping[str, Any]) -> None:
    fields = {k: v for k, v in row.items() if k != "time"}
    log.log(
        logging.WARNING if row["type"] in _ALARMS else logging.INFO,
        "audit %s user=%s actor=%s client=%s credential=%s ip=%s",
        row["type"],
        row["user_id"],
        row["actor_id"],
        row["client_id"],
        row["credential_id"],
        row["ip"],
        extra={"event": "audit", "fields": fields},
    )


@dataclass(frozen=True, slots=True)
class Filters:
    user_id: str | None = None
    client_id: str | None = None
    types: Iterable[str] = ()
    type_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def search(session: Session | Connection, filters: Filters) -> list[Any]:
    """Records matching `filters`, newest first (console, CLI, the user's own page)."""
    query = select(_t)
    if filters.user_id is not None:
        query = query.where(_t.c.user_id == filters.user_id)
    if filters.client_id is not None:
        query = query.where(_t.c.client_id == filters.client_id)
    types = list(filters.types)
    if types:
        query = query.where(_t.c.type.in_(types))
    if filters.type_prefix:
        query = query.where(_t.c.type.startswith(filters.type_prefix, autoescape=True))
    if filters.since is not None:
        query = query.where(_t.c.time >= filters.since)
    if filters.until is not None:
        query = query.where(_t.c.time < filters.until)
    query = query.order_by(_t.c.time.desc(), _t.c.id.desc()).limit(filters.limit)
    return list(session.execute(query).all())


def as_json(row: Any) -> dict[str, Any]:
    """A record as the CLI's JSON lines and the console show it."""
    return {
        "id": row.id,
        "time": row.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": row.type,
        "actor_id": row.actor_id,
        "user_id": row.user_id,
        "client_id": row.client_id,
        "service_id": row.service_id,
        "credential_id": row.credential_id,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "detail": row.detail or {},
    }
