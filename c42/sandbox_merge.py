"""The merge of a sandbox into a verified account (SPEC §5.4). It changes planning data, so it
lives above `c42.auth` and `c42.access` (SPEC §9) and joins the authorization endpoint as an
extension the app registers (`MergeAtConsent`, see `c42.auth.oauth.extensions`).

When the owner of an address has a verified, active account and completes the normal
authorize + consent for an app of a service, the open sandbox of (address, service) becomes
part of that account, in the caller's transaction:

- calendars, events, event and calendar subscriptions move (ids kept); every moved row takes
  one new sync token, so clients syncing with `sync_token` see them; `creator_id`, `user_id`
  and `actor_id` are rewritten;
- where both accounts subscribe to the same object, the account's own row stays (its id is
  what the account's clients know) and takes the stronger permission of the two; the
  sandbox's row is dropped, so no unique constraint is ever violated;
- the sandbox's service subscription is not carried over (it would let the service's admins
  create Action Tokens for the account, which consenting to an app does not grant); it is
  deactivated with the sandbox;
- the sandbox user is closed, its OAuth tokens revoked (access and refresh), its consents
  and authorization codes deleted, and a `sandbox_merged` audit record written (c42.audit).

Every step is a module-level function on Core tables, so a test can make one fail and check
that the transaction leaves both sides untouched. A failure is caught by `MergeAtConsent` in a
savepoint: both accounts stay as they were. No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, Table, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from c42 import audit
from c42.access import readable
from c42.access.permissions import Permission
from c42.auth.oauth import tokens
from c42.auth.oauth.extensions import AuthorizationExtension
from c42.auth.oauth.models import Client
from c42.auth.oauth.server import OAuthServer
from c42.db import next_sync_token
from c42.logs import get_logger
from c42.models import (
    Calendar,
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
    OAuthAuthorizationCode,
    OAuthConsent,
    ServiceSubscription,
    User,
    UserToken,
    utcnow,
)

MERGED = audit.Types.SANDBOX_MERGED
log = get_logger("c42.silent")
_cals = Calendar.__table__
_events = Event.__table__
_ec = EventCalendar.__table__
_es = EventSubscription.__table__
_cs = CalendarSubscription.__table__
# What the stronger of two subscriptions to one object brings into the kept row.
_EVENT_SUBSCRIPTION_FIELDS = ("permission", "rsvp_status", "is_invitation", "message")
_CALENDAR_SUBSCRIPTION_FIELDS = ("permission",)


class MergeAtConsent(AuthorizationExtension):
    def after_consent(self, server: OAuthServer, client: Client, user: User) -> None:
        """SPEC §5.4: the logged-in user has just allowed (or earlier allowed) an app: a
        sandbox of the same address and service, if any, becomes part of their account — in
        a savepoint of the authorization's transaction: a failure leaves both accounts exactly
        as they were (the merge is tried again at the next consent) and never costs the user
        their sign-in."""
        session = server.session
        sandbox = sandbox_to_merge(session, client.service_id, user)
        if sandbox is None:
            return
        before = dict(session.info)
        try:
            with session.begin_nested():
                result = merge(session, sandbox_id=sandbox, into=user, app_id=client.id)
        except Exception:
            session.info.clear()
            session.info.update(before)  # a sync token taken inside the savepoint was rolled back
            log.exception("sandbox merge failed; both accounts left unchanged")
            audit.record(
                session,
                audit.Types.SANDBOX_MERGE_FAILED,
                user_id=user.id,
                client_id=client.client_id,
                service_id=client.service_id,
                sandbox_user_id=sandbox,
            )
            return
        server.revoked_access_digests.extend(result.revoked_access_digests)


@dataclass
class MergeResult:
    sandbox_id: str
    user_id: str
    sync_token: int | None = None
    calendars: int = 0
    events: int = 0
    event_subscriptions: int = 0
    calendar_subscriptions: int = 0
    revoked_access_digests: list[str] = field(default_factory=list)


def sandbox_to_merge(session: Session, service_id: str, user: User) -> str | None:
    """The id of the open sandbox this account absorbs for this service, if any. Only a real,
    open, active and verified account ever merges (SPEC §5.4: never an unverified one)."""
    if not (user.may_act and user.email_verified):
        return None
    return session.scalar(
        select(User.id).where(
            User.email == user.email,  # both are stored in the one normal form (c42.emails)
            User.sandbox_service_id == service_id,
            User.closed_at.is_(None),
        )
    )


def merge(session: Session, *, sandbox_id: str, into: User, app_id: str | None) -> MergeResult:
    """Move the sandbox into `into`. Flushes, never commits: the caller owns the transaction
    (and should run this in a savepoint so that a failure changes nothing)."""
    result = MergeResult(sandbox_id, into.id)
    sandbox = _lock_open_sandbox(session, sandbox_id)
    if sandbox is None:
        return result  # merged by a concurrent request meanwhile
    sb, real = sandbox.id, into.id
    token = next_sync_token(session)
    result.sync_token = token
    # The calendar subscriptions that move change who reads those calendars' events: their
    # calendars are locked before any event row (c42.access.readable, Concurrency).
    # The calendars that move are locked too, and every lock in id order (before the UPDATEs,
    # which visit rows in any order): a refresh running meanwhile then waits instead of
    # deadlocking with the merge.
    readable.lock_calendars(session, list(session.scalars(select(_cals.c.id).where(_mine(sb)))))
    # Objects first: their conditions follow the sandbox's subscriptions, moved next.
    result.events = move_events(session, sb, real, token)
    result.calendars = move_calendars(session, sb, real, token)
    result.event_subscriptions = move_subscriptions(
        session, _es, "event_id", sb, real, token, _EVENT_SUBSCRIPTION_FIELDS
    )
    result.calendar_subscriptions = move_subscriptions(
        session, _cs, "calendar_id", sb, real, token, _CALENDAR_SUBSCRIPTION_FIELDS
    )
    # Who reads what: every event touched above carries this merge's sync token.
    readable.refresh(session, event_ids=select(_events.c.id).where(_events.c.sync_token == token))
    readable.refresh(session, user_id=sb)
    result.revoked_access_digests = retire_credentials(session, sb)
    close(session, sandbox)
    audit.record(
        session,
        MERGED,
        user_id=real,
        client_id=audit.client_of(session, app_id),
        service_id=sandbox.sandbox_service_id,
        sandbox_user_id=sb,
        sync_token=token,
        calendars=result.calendars,
        events=result.events,
        event_subscriptions=result.event_subscriptions,
        calendar_subscriptions=result.calendar_subscriptions,
        revoked_tokens=len(result.revoked_access_digests),
    )
    session.flush()
    return result


def _lock_open_sandbox(session: Session, sandbox_id: str) -> User | None:
    # Row lock (PostgreSQL; SQLite's write lock is already held): one merge of a sandbox wins.
    return session.scalar(
        select(User)
        .where(
            User.id == sandbox_id,
            User.sandbox_service_id.is_not(None),
            User.closed_at.is_(None),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def move_events(session: Session, sb: str, real: str, token: int) -> int:
    """Events the sandbox created or relates to (directly or through its calendars)."""
    via_calendars = (
        select(_ec.c.event_id)
        .join(_cs, _cs.c.calendar_id == _ec.c.calendar_id)
        .where(_cs.c.user_id == sb)
    )
    condition = or_(
        _events.c.creator_id == sb,
        _events.c.id.in_(select(_es.c.event_id).where(_es.c.user_id == sb)),
        _events.c.id.in_(via_calendars),
    )
    session.execute(  # in id order, as refreshes lock them (c42.access.readable)
        select(_events.c.id).where(condition).order_by(_events.c.id).with_for_update(key_share=True)
    )
    return _move_created(session, _events, condition, sb, real, token)


def _mine(sb: str) -> Any:
    """The calendars the sandbox created or subscribes to."""
    return or_(
        _cals.c.creator_id == sb,
        _cals.c.id.in_(select(_cs.c.calendar_id).where(_cs.c.user_id == sb)),
    )


def move_calendars(session: Session, sb: str, real: str, token: int) -> int:
    condition = _mine(sb)
    return _move_created(session, _cals, condition, sb, real, token)


def move_subscriptions(
    session: Session,
    table: Table,
    object_column: str,
    sb: str,
    real: str,
    token: int,
    carried: tuple[str, ...],
) -> int:
    """Hand the sandbox's subscriptions (of one kind) to `real`. Returns how many moved."""
    obj = table.c[object_column]
    theirs = table.alias("theirs")
    both = session.execute(
        select(table, theirs.c.id.label("kept_id"))
        .join(theirs, and_(theirs.c[object_column] == obj, theirs.c.user_id == real))
        .where(table.c.user_id == sb)
    ).all()
    now = utcnow()
    for row in both:
        kept = session.execute(select(table).where(table.c.id == row.kept_id)).one()
        if _strength(row) > _strength(kept):
            values: dict[str, Any] = {name: getattr(row, name) for name in carried}
            session.execute(
                update(table)
                .where(table.c.id == kept.id)
                .values(
                    previous_permission=kept.permission,
                    deleted_at=None,
                    modified=now,
                    sync_token=token,
                    **values,
                )
            )
        session.execute(delete(table).where(table.c.id == row.id))
    moved = _rowcount(
        session.execute(
            update(table).where(table.c.user_id == sb).values(user_id=real, sync_token=token)
        )
    )
    session.execute(
        update(table).where(table.c.actor_id == sb).values(actor_id=real, sync_token=token)
    )
    return moved + len(both)


def _strength(row: Any) -> int:
    return int(Permission.REMOVED) if row.deleted_at is not None else int(row.permission)


def retire_credentials(session: Session, sb: str) -> list[str]:
    """Revoke the sandbox's OAuth tokens (access and refresh), delete its consents and codes.
    Returns the revoked access digests, to evict from the credential cache after commit."""
    revoked = tokens.revoke_for_user(session, sb)
    session.execute(delete(OAuthConsent).where(OAuthConsent.user_id == sb))
    session.execute(delete(OAuthAuthorizationCode).where(OAuthAuthorizationCode.user_id == sb))
    now = utcnow()
    # Sandbox users never hold User Tokens; should one exist, it ends here too.
    session.execute(
        update(UserToken)
        .where(UserToken.user_id == sb, UserToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return revoked


def close(session: Session, sandbox: User) -> None:
    now = utcnow()
    session.execute(
        update(ServiceSubscription)
        .where(ServiceSubscription.user_id == sandbox.id)
        .values(is_active=False)
    )
    sandbox.closed_at = now  # the partial unique index frees (address, service) for a new one
    session.flush()


def _move_created(
    session: Session, table: Any, condition: Any, sb: str, real: str, token: int
) -> int:
    """Rows matching `condition`: the sandbox's creations become the real user's, and every
    one gets the merge's sync token. Returns how many rows changed."""
    return _rowcount(
        session.execute(
            update(table)
            .where(condition)
            .values(
                creator_id=case((table.c.creator_id == sb, real), else_=table.c.creator_id),
                sync_token=token,
            )
        )
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
