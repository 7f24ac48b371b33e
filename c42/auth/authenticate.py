"""The one place where a credential becomes a caller (STYLE §5).

Parses `Authorization` (and, for GET, the discouraged `access_token` query parameter), looks up
the digest, checks expiry, revocation, user activity and Action Token grants, and returns an
immutable `AuthSubject`. Nothing else reads the header.

OAuth access tokens come with the `Bearer` scheme or, bound to a key, the `DPoP` scheme
(RFC 9449 §7): both are looked up (and cached) alike; `check_binding` then refuses a bound
token sent as Bearer and an unbound one sent as DPoP, and `check_proof` checks the request's
proof — always, never from the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c42.auth import evictions, last_used, secrets
from c42.auth.action_tokens import lookup as action_tokens
from c42.auth.cache_entry import CacheEntry, refusal
from c42.auth.dpop import challenges as dpop_challenges
from c42.auth.dpop.proofs import DPoPError, ProofChecker
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
DPOP_CHALLENGE = dpop_challenges.challenge("c42")  # RFC 9449 §7.1: with the algs we verify
# RFC 9110 §11.6.1: every scheme the API accepts (RFC 9449 §7.2: Bearer and DPoP side by side).
CHALLENGE = f"Token {REALM}, ActionToken {REALM}, Bearer {REALM}, {DPOP_CHALLENGE}"
DPOP = "dpop"
_SCHEMES = {kind.value.lower(): kind for kind in CredentialKind} | {DPOP: CredentialKind.OAUTH}


@dataclass(frozen=True, slots=True)
class Credential:
    kind: CredentialKind
    secret: str
    from_query: bool = False
    dpop: bool = False  # an OAuth access token sent with the DPoP scheme (RFC 9449 §7.1)

    @property
    def scheme(self) -> str:
        """The scheme word, for metrics (`DPoP` beside the credential kinds)."""
        return "DPoP" if self.dpop else self.kind.value


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
        return Credential(kind, secret, dpop=scheme.lower() == DPOP)
    if query_token is not None:
        return Credential(CredentialKind.OAUTH, query_token, from_query=True)
    return None


def unauthorized(
    kind: CredentialKind | None, code: str, message: str, *, dpop: bool = False
) -> Unauthorized:
    """A 401 whose challenge carries the error in the scheme the client used (`dpop`: the
    DPoP scheme). A Bearer refusal lists the DPoP scheme beside it (RFC 9449 §7.2), so a
    client learns that DPoP is accepted; a DPoP refusal is the DPoP challenge alone."""
    if dpop:
        # RFC 9449 §7.1: invalid_dpop_proof / use_dpop_nonce for the proof, else invalid_token.
        proof_errors = (dpop_challenges.INVALID_PROOF, dpop_challenges.USE_NONCE)
        error = code if code in proof_errors else "invalid_token"
        # RFC 9449 §7.1, §9: the DPoP challenge alone, first in the header (clients such as
        # requests-oauth2client look for a use_dpop_nonce challenge that starts with "DPoP").
        challenge = dpop_challenges.challenge("c42", error, message)
    elif kind is CredentialKind.OAUTH:
        # RFC 6750 §3: Bearer challenges carry the error code.
        challenge = (
            f'Bearer {REALM}, error="invalid_token", error_description="{message}", '
            f"{DPOP_CHALLENGE}"
        )
    else:
        challenge = CHALLENGE
    return Unauthorized(message, code=code, headers={"WWW-Authenticate": challenge})


def with_resource_metadata(error: APIError, url: str) -> APIError:
    """RFC 9728 §5.1: the API's 401 names its protected resource metadata in its Bearer and
    DPoP challenges (each starts with our realm, so the parameter follows it)."""
    challenge = error.headers.get("WWW-Authenticate", "")
    if error.status_code == 401:
        param = f'resource_metadata="{url}"'
        for scheme in ("Bearer", "DPoP"):
            challenge = challenge.replace(f"{scheme} {REALM}", f"{scheme} {REALM}, {param}", 1)
        error.headers["WWW-Authenticate"] = challenge
    return error


def check_binding(subject: AuthSubject, credential: Credential) -> None:
    """RFC 9449 §7.2: a DPoP-bound access token is never accepted as a Bearer token (header or
    query); §7.1: the DPoP scheme is for bound tokens only."""
    if subject.kind is not CredentialKind.OAUTH:
        return
    if subject.dpop_jkt is not None and not credential.dpop:
        raise unauthorized(
            subject.kind,
            "invalid_token",
            "This access token is bound to a DPoP key: send it with the DPoP scheme and a proof.",
        )
    if subject.dpop_jkt is None and credential.dpop:
        raise unauthorized(
            subject.kind, "invalid_token", "This access token is not DPoP-bound.", dpop=True
        )


async def check_proof(
    checker: ProofChecker,
    subject: AuthSubject,
    credential: Credential,
    proofs: list[str],
    *,
    method: str,
    url: str,
) -> None:
    """RFC 9449 §7.1: the request's DPoP proof (§4.3, `ath` of this token) is by the key the
    token is bound to. On the event loop (the replay cache's Redis `SET` awaited). Raises a
    401 with a DPoP challenge; for `use_dpop_nonce`, with a fresh `DPoP-Nonce` (§9)."""
    try:
        proof = await checker.check_async(
            proofs, method=method, url=url, access_token=credential.secret
        )
    except DPoPError as exc:
        error = unauthorized(subject.kind, exc.code, exc.description, dpop=True)
        if exc.code == dpop_challenges.USE_NONCE:
            error.headers[dpop_challenges.NONCE_HEADER] = checker.nonces.current()
        raise error from None
    # RFC 9449 §6.1: the proof's key thumbprint is the token's cnf.jkt.
    if subject.dpop_jkt is None or not secrets.same(subject.dpop_jkt, proof.jkt):
        raise unauthorized(
            subject.kind,
            dpop_challenges.INVALID_PROOF,
            "The DPoP proof is not by the key this access token is bound to.",
            dpop=True,
        )


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


def check(entry: CacheEntry, kind: CredentialKind, *, dpop: bool = False) -> AuthSubject:
    if entry.subject is None:
        raise unauthorized(kind, entry.error_code, entry.error_message, dpop=dpop)
    if entry.expires_at is not None and entry.expires_at <= utcnow():
        raise unauthorized(kind, "invalid_token", "The token has expired.", dpop=dpop)
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
            subject.kind,
            "invalid_token",
            "This token's app is not registered for this origin.",
            dpop=subject.dpop_jkt is not None,  # a bound token came with the DPoP scheme
        )


def _consume_use(db: Database, subject: AuthSubject) -> None:
    # SPEC §5.2: only Action Tokens have max_uses, counted atomically in the database, never
    # in the cache.
    if not action_tokens.count_use(db, subject):
        raise unauthorized(CredentialKind.ACTION_TOKEN, "invalid_token", action_tokens.USED_UP)
