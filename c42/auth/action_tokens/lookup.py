"""Action Token digest -> cache entry (SPEC §5.2), registered in `c42.auth.authenticate`.

A token works while it is not revoked, not expired (checked per request from the entry's
`expires_at`), not used up, its holder is an active real user (sandbox users never hold Action
Tokens), and — for a service-restricted token — its holder is still actively subscribed to
the service and, when someone else created it, that creator is still an active admin of it.
"""

from __future__ import annotations

from typing import Any

from c42.auth import last_used
from c42.auth.action_tokens import repository
from c42.auth.cache_entry import CacheEntry, refusal
from c42.auth.subject import AuthSubject, CredentialKind
from c42.db import Database
from c42.models import ActionToken, utcnow
from c42.models.users import standing

USED_UP = "The Action Token is used up."
_NO_LONGER_VALID = "The Action Token's service relationship is no longer valid."


def lookup(db: Database, token_digest: str) -> CacheEntry:
    with db.read() as connection:
        row = repository.lookup(connection, token_digest)
    if row is None or row.revoked_at is not None:
        return CacheEntry(None)
    refused = refusal(standing(row.is_active, row.sandbox_service_id, row.closed_at))
    if refused is not None:
        return refused  # sandbox (and merged-away) users never hold Action Tokens
    if not _relationship_holds(row):
        return CacheEntry(None, None, "invalid_token", _NO_LONGER_VALID)
    if row.max_uses is not None and row.use_count >= row.max_uses:
        return CacheEntry(None, None, "invalid_token", USED_UP)
    if row.max_uses is None:
        _touch(db, row)  # limited tokens record last_used on every counted use instead
    subject = AuthSubject(
        user_id=row.user_id,
        kind=CredentialKind.ACTION_TOKEN,
        credential_id=row.id,
        service_id=row.service_id,
        is_staff=False,  # staff powers are never delegated to an Action Token
        grants=repository.grants_from_json(row.grants),
        max_uses=row.max_uses,  # None: unlimited tokens never write per request
    )
    return CacheEntry(subject, row.expires_at)


def _relationship_holds(row: Any) -> bool:
    if row.service_id is None:
        return bool(row.creator_id == row.user_id)  # only one's own tokens are unrestricted
    if not row.holder_subscribed:
        return False
    return bool(row.creator_id == row.user_id or row.creator_admin)


def _touch(db: Database, row: Any) -> None:
    now = utcnow()
    if last_used.due(row.last_used, now):
        last_used.record(db, ActionToken, row.id, now)  # SPEC §8: to the minute


def count_use(db: Database, subject: AuthSubject) -> bool:
    """Count one use of a limited token; False when it is used up, revoked or gone."""
    return repository.count_use(db, subject.credential_id)
