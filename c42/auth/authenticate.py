"""The one place where a credential becomes a caller (STYLE §5).

Parses `Authorization` (and, for GET, the discouraged `access_token` query parameter), looks up
the digest, checks expiry, revocation, user activity and Action Token grants, and returns an
immutable `AuthSubject`. Nothing else reads the header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c42.auth import evictions, last_used, secrets
from c42.auth.action_tokens import lookup as action_tokens
from c42.auth.cache_entry import CacheEntry, refusal
from c42.auth.evictions import EvictionBus
from c42.auth.oauth import bearer
from c42.auth.subject import AuthSubject, CredentialKind
from c42.auth.token_cache import TTLCache
from c42.auth.user_tokens import repository as user_tokens
from c42.db import Database
from c42.errors import APIError, Forbidden, InvalidRequest, Unauthorized
from c42.models import UserToken, utcnow
from c42.models.users import standing

REALM = 'realm="c42"'
CHALLENGE = f"Token {REALM}, ActionToken {REALM}, Bearer {REALM}"
_SCHEMES = {kind.value.lower(): kind for kind in CredentialKind}


@dataclass(frozen=True, slots=True)
class Credential:
    kind: CredentialKind
    secret: str
    from_query: bool = False


def parse_authorization(
    headers: Sequence[str] | str | None, query_token: str | None
) -> Credential | None:
    """The credential of a request: its Authorization header(s) (all of them, so that a
    second one is never silently ignored) and the discouraged `access_token` parameter."""
    values = [headers] if isinstance(headers, str) else list(headers or ())
    if len(values) > 1:
        # RFC 9110 §11.6.2 / §5.3: Authorization is a singleton field; never pick one.
        raise Unauthorized(
            "More than one Authorization header.", headers={"WWW-Authenticate": CHALLENGE}
        )
    header = values[0] if values else None
    if header and query_token is not None:
        # RFC 6750 §2 and §3.1: more than one way of sending a token is an invalid request.
        raise InvalidRequest("Send the token in the Authorization header or the query, not both.")
    if header:
        scheme, _, rest = header.partition(" ")
        kind = _SCHEMES.get(scheme.lower())  # RFC 7235 §2.1: the scheme is case-insensitive
        secret = rest.strip(" ")
        if kind is None or not secret or " " in secret:
            raise Unauthorized(
                "Unsupported or malformed Authorization header.",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        return Credential(kind, secret)
    if query_token is not None:
        return Credential(CredentialKind.OAUTH, query_token, from_query=True)
    return None


def unauthorized(kind: CredentialKind | None, code: str, message: str) -> Unauthorized:
    if kind is CredentialKind.OAUTH:
        # RFC 6750 §3: Bearer challenges carry the error code.
        challenge = f'Bearer {REALM}, error="invalid_token", error_description="{message}"'
    else:
        challenge = CHALLENGE
    return Unauthorized(message, code=code, headers={"WWW-Authenticate": challenge})


def with_resource_metadata(error: APIError, url: str) -> APIError:
    """RFC 9728 §5.1: the API's 401 names its protected resource metadata in the Bearer
    challenge (always the last challenge of the header, so the parameter is Bearer's)."""
    challenge = error.headers.get("WWW-Authenticate", "")
    if error.status_code == 401 and "Bearer " in challenge:
        error.headers["WWW-Authenticate"] = f'{challenge}, resource_metadata="{url}"'
    return error


def _lookup_user_token(db: Database, token_digest: str) -> CacheEntry:
    with db.read() as connection:
        row = user_tokens.lookup(connection, token_digest)
    if row is None or row.revoked_at is not None:
        return CacheEntry(None)
    refused = refusal(standing(row.is_active, row.sandbox_service_id, row.closed_at))
    if refused is not None:
        return refused  # SPEC §5.4: sandbox users never hold User Tokens
    now = utcnow()
    if last_used.due(row.last_used, now):
        last_used.record(db, UserToken, row.id, now)  # SPEC §8: to the minute
    subject = AuthSubject(
        user_id=row.user_id,
        kind=CredentialKind.USER_TOKEN,
        credential_id=row.id,
        is_staff=bool(row.is_staff),
    )
    return CacheEntry(subject, row.expires_at)


# A look-up function per kind: (database, digest) -> cache entry. The Action Token and OAuth
# look-ups live in their packages (c42.auth.action_tokens, c42.auth.oauth.bearer), which import
# only c42.auth.cache_entry, not this module.
_LOOKUPS: dict[CredentialKind, Callable[[Database, str], CacheEntry]] = {
    CredentialKind.USER_TOKEN: _lookup_user_token,
    CredentialKind.ACTION_TOKEN: action_tokens.lookup,
    CredentialKind.OAUTH: bearer.lookup,
}


class Authenticator:
    def __init__(self, db: Database, cache_seconds: float, bus: EvictionBus) -> None:
        self.db = db
        self.cache: TTLCache[CacheEntry] = TTLCache(cache_seconds)
        bus.listen(self._evict)

    def cached(self, credential: Credential) -> tuple[str, CacheEntry | None]:
        """The fast path: the digest and a cached entry, if any. No I/O."""
        if credential.kind is not CredentialKind.OAUTH and not secrets.is_server_token(
            credential.secret
        ):
            # SPEC §5.1: User and Action Tokens are 40 lowercase hex, anything else is a 401.
            raise unauthorized(credential.kind, "invalid_token", "Malformed token.")
        key = evictions.cache_key(credential.kind, secrets.digest(credential.secret))
        return key, self.cache.get(key)

    def load(self, key: str, kind: CredentialKind) -> CacheEntry:
        """The slow path (blocking I/O): look the digest up and cache the outcome."""
        generation = self.cache.generation  # before the read: see token_cache
        entry = _LOOKUPS[kind](self.db, key.split(":", 1)[1])
        self.cache.put(key, entry, generation)
        return entry

    def consume_use(self, subject: AuthSubject) -> None:
        """Blocking: count one use of a limited credential, or refuse it (401)."""
        _consume_use(self.db, subject)

    def _evict(self, scope: str, value: str) -> None:
        """An eviction published by this or another process (c42.auth.evictions)."""
        if scope == evictions.KEY:
            self.cache.evict(value)
        elif scope == evictions.USER:
            self.cache.evict_where(lambda entry: _user_of(entry) == value)
        else:  # apps changed: a disabled app's tokens, whatever their digests
            self.cache.clear()


def _user_of(entry: CacheEntry) -> str | None:
    return entry.subject.user_id if entry.subject is not None else None


def check(entry: CacheEntry, kind: CredentialKind) -> AuthSubject:
    if entry.subject is None:
        raise unauthorized(kind, entry.error_code, entry.error_message)
    if entry.expires_at is not None and entry.expires_at <= utcnow():
        raise unauthorized(kind, "invalid_token", "The token has expired.")
    return entry.subject


def check_grants(
    subject: AuthSubject, method: str, route: str | None, path_params: Mapping[str, Any]
) -> None:
    """SPEC §5.2: an Action Token reaches only the routed endpoints (and objects) it lists."""
    if subject.kind is not CredentialKind.ACTION_TOKEN:
        return
    params = {name: str(value) for name, value in path_params.items()}
    if route is None or not any(g.allows(method, route, params) for g in subject.grants):
        raise Forbidden(
            "This Action Token does not allow this endpoint.", code="endpoint_not_allowed"
        )


def check_origin(subject: AuthSubject, origin: str | None) -> None:
    """A request sent by a web page of another site (`origin`: the normal form of its `Origin`
    header, "null" when opaque; None for a server or our own pages). SPEC §1, §5.3: User and
    Action Tokens are server tokens, never honoured from a browser; an OAuth token only from
    an origin registered by its own (public) app, so one app's page cannot use another's token."""
    if origin is None:
        return
    if subject.kind is not CredentialKind.OAUTH:
        raise unauthorized(
            subject.kind,
            "invalid_token",
            "User and Action Tokens are server tokens: not accepted from a web page.",
        )
    if origin not in subject.origins:
        raise unauthorized(
            subject.kind, "invalid_token", "This token's app is not registered for this origin."
        )


def _consume_use(db: Database, subject: AuthSubject) -> None:
    # SPEC §5.2: only Action Tokens have max_uses, counted atomically in the database, never
    # in the cache.
    if not action_tokens.count_use(db, subject):
        raise unauthorized(CredentialKind.ACTION_TOKEN, "invalid_token", action_tokens.USED_UP)
