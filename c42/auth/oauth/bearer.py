"""OAuth access token digest -> cache entry, registered in `c42.auth.authenticate` (SPEC §5.3).

A Bearer token works while it is not revoked, not expired (checked per request from the
entry's `expires_at`) and its user is an active, open account. The caller it yields is
restricted to the app's service, to the token's scopes, and flagged as a sandbox when the
user is a silent-OAuth sandbox user (SPEC §5.4). No Authlib here: this is the API's hot path.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from c42.auth import last_used, scopes
from c42.auth.cache_entry import INACTIVE_USER, CacheEntry
from c42.auth.subject import AuthSubject, CredentialKind
from c42.db import Database
from c42.models import OAuthApp, OAuthToken, User, utcnow
from c42.models.users import Standing, standing

_t = OAuthToken.__table__
_a = OAuthApp.__table__
_u = User.__table__

_LOOKUP = (
    select(
        _t.c.id,
        _t.c.user_id,
        _t.c.scope,
        _t.c.access_expires_at,
        _t.c.access_revoked_at,
        _t.c.last_used,
        _t.c.dpop_jkt,
        _a.c.service_id,
        _a.c.client_id,
        _a.c.is_public,
        _a.c.cors_origins,
        _a.c.disabled_at,
        _u.c.is_active,
        _u.c.is_staff,
        _u.c.sandbox_service_id,
        _u.c.closed_at,
    )
    .join(_a, _a.c.id == _t.c.app_id)
    .join(_u, _u.c.id == _t.c.user_id)
    .where(_t.c.access_digest == bindparam("digest"))
)


def lookup(db: Database, token_digest: str) -> CacheEntry:
    with db.read() as connection:
        row = connection.execute(_LOOKUP, {"digest": token_digest}).first()
    if row is None or row.access_revoked_at is not None:
        return CacheEntry(None)  # RFC 6750 §3.1: invalid_token
    account = standing(row.is_active, row.sandbox_service_id, row.closed_at)
    if account is Standing.CLOSED:
        return CacheEntry(None)
    if row.disabled_at is not None:
        return CacheEntry(None, None, "invalid_token", "The app of this token is disabled.")
    if account is Standing.INACTIVE:
        return INACTIVE_USER
    if account is Standing.SANDBOX and row.sandbox_service_id != row.service_id:
        return CacheEntry(None)  # SPEC §5.4: a sandbox exists only inside its own service
    now = utcnow()
    if last_used.due(row.last_used, now):
        last_used.record(db, OAuthToken, row.id, now)  # SPEC §8: to the minute, once a minute
    subject = AuthSubject(
        user_id=row.user_id,
        kind=CredentialKind.OAUTH,
        credential_id=row.id,
        service_id=row.service_id,  # SPEC §5.3: only data related to the app's service
        scopes=scopes.for_api(scopes.parse(row.scope)),  # never an identity scope
        is_sandbox=row.sandbox_service_id is not None,
        is_staff=False,  # staff powers are never delegated to an app
        # SPEC §5.3: only a public app's registered origins may present its tokens in a browser
        origins=frozenset(row.cors_origins or ()) if row.is_public else frozenset(),
        client_id=row.client_id,
        dpop_jkt=row.dpop_jkt,  # RFC 9449 §6: the proof at the API must be by this key
    )
    return CacheEntry(subject, row.access_expires_at)
