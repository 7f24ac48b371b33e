"""The id_token signing keys (SPEC §10): made, sealed, rotated, retired, published.

Keys live in `oidc_signing_keys`. The private key is stored only sealed: AES-256-GCM under a
key derived by HKDF-SHA256 from the server secret, with the key id as associated data (a
sealed key copied onto another row does not open). The public JWK is stored in clear.

- Every key not retired is published in the JWKS; the newest of them whose `active_from`
  has come signs. `rotate` makes a new key (RS256 or ES256) that is published at once and
  signs only ACTIVATION_SECONDS later: relying parties refetch a JWKS at most about once a
  minute (its Cache-Control, and libraries such as openid-client refetch for an unknown
  `kid` only when their copy is a minute old), so by the time the new key signs, every one
  of them has it. `rotate --now` (a compromised key) signs at once. Earlier keys stay
  published until `retire`d, so id_tokens signed before a rotation still verify (OIDC Core
  §10.1.1). The signing key itself cannot be retired: rotate first.
- The first key is made on first use (an RS256 key, signing at once).
- Each process keeps the published keys for at most `CACHE_SECONDS`, so a rotation or
  retirement made by another process (`c42 keys rotate`) is published by every process
  within that time; the JWKS may be cached by clients for as long (its Cache-Control).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from c42.errors import InvalidRequest, NotFound
from c42.models import OIDCSigningKey, utcnow

ALGORITHMS = ("RS256", "ES256")  # RS256 is the default (OIDC Core §15.1: RPs must accept it)
DEFAULT_ALGORITHM = "RS256"
CACHE_SECONDS = 30  # a rotation reaches every process within this (SPEC §10: within 60 s)
# A new key signs this long after it is published: a process's cache, the JWKS's HTTP
# cache time and a relying party's minute before refetching for an unknown kid, with margin.
ACTIVATION_SECONDS = 2 * CACHE_SECONDS + 60
_SEALED_VERSION = "v1"
_HKDF_INFO = b"c42 oidc signing key seal v1"

Key = RSAKey | ECKey


@dataclass(frozen=True)
class _Entry:
    kid: str
    alg: str
    active_from: datetime
    public_jwk: dict[str, Any]
    sealed: str


class KeyRing:
    """The keys as one process uses them for up to CACHE_SECONDS: which key signs is decided
    at each use, so a key's `active_from` takes effect on time."""

    def __init__(self, entries: tuple[_Entry, ...], server_key: str, loaded_at: float) -> None:
        self._entries = entries  # newest first
        self._server_key = server_key
        self._private: dict[str, Key] = {}
        self._lock = threading.Lock()
        self.loaded_at = loaded_at

    @property
    def empty(self) -> bool:
        return not self._entries

    @property
    def public_keys(self) -> tuple[dict[str, Any], ...]:
        return tuple(dict(entry.public_jwk) for entry in self._entries)

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 §5: the JWK Set document of /oauth2/jwks/."""
        return {"keys": list(self.public_keys)}

    def signing(self, now: datetime | None = None) -> tuple[str, str, Key]:
        """(kid, alg, private key) of the key that signs now."""
        if not self._entries:
            raise LookupError("no signing key")
        now = now or utcnow()
        active = [entry for entry in self._entries if entry.active_from <= now]
        entry = active[0] if active else self._entries[-1]  # else the oldest: it came first
        with self._lock:
            key = self._private.get(entry.kid)
            if key is None:
                key = _import(unseal(self._server_key, entry.kid, entry.sealed))
                self._private[entry.kid] = key
        return entry.kid, entry.alg, key

    def public_key(self, kid: str) -> Key | None:
        for entry in self._entries:
            if entry.kid == kid:
                return _import(entry.public_jwk)
        return None


# -- sealing ---------------------------------------------------------------------------------


def _seal_key(server_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        server_key.encode()
    )


def seal(server_key: str, kid: str, private_jwk: dict[str, Any]) -> str:
    nonce = os.urandom(12)  # 96-bit random nonce, one per sealing (NIST SP 800-38D §8.2.2)
    sealed = AESGCM(_seal_key(server_key)).encrypt(nonce, orjson.dumps(private_jwk), kid.encode())
    return f"{_SEALED_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(server_key: str, kid: str, sealed: str) -> dict[str, Any]:
    version, _, body = sealed.partition(".")
    if version != _SEALED_VERSION:
        raise ValueError("unknown sealed key format")
    raw = base64.urlsafe_b64decode(body)
    opened = AESGCM(_seal_key(server_key)).decrypt(raw[:12], raw[12:], kid.encode())
    jwk: dict[str, Any] = orjson.loads(opened)
    return jwk


# -- the table -------------------------------------------------------------------------------


def _generate(alg: str) -> Key:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise InvalidRequest(f"Unknown key algorithm; choose one of {', '.join(ALGORITHMS)}.")


def _import(jwk: dict[str, Any]) -> Key:
    if jwk.get("kty") == "RSA":
        return RSAKey.import_key(jwk)
    return ECKey.import_key(jwk)


def create(
    session: Session,
    server_key: str,
    alg: str = DEFAULT_ALGORITHM,
    *,
    activate_in: int = ACTIVATION_SECONDS,
) -> OIDCSigningKey:
    """A new key, published at once (in this process; in others within CACHE_SECONDS) and
    signing `activate_in` seconds from now. The caller commits."""
    key = _generate(alg)
    kid = key.thumbprint()  # RFC 7638: the key id is the key's own thumbprint
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    now = utcnow()
    row = OIDCSigningKey(
        kid=kid,
        alg=alg,
        public_jwk=public,
        sealed_private_key=seal(server_key, kid, key.as_dict(private=True)),
        created=now,
        active_from=now + timedelta(seconds=max(0, activate_in)),
        retired_at=None,
    )
    session.add(row)
    session.flush()
    forget()
    return row


def signing_kid(rows: list[OIDCSigningKey], now: datetime | None = None) -> str | None:
    """Which of these live keys (newest first) signs now."""
    now = now or utcnow()
    active = [row for row in rows if row.active_from <= now]
    chosen = active[0] if active else (rows[-1] if rows else None)
    return chosen.kid if chosen else None


def listing(session: Session) -> list[OIDCSigningKey]:
    """Every key, newest first (retired ones too)."""
    query = select(OIDCSigningKey).order_by(
        OIDCSigningKey.created.desc(), OIDCSigningKey.kid.desc()
    )
    return list(session.scalars(query))


def live(session: Session) -> list[OIDCSigningKey]:
    """The keys not retired, newest (the signing key) first."""
    return [row for row in listing(session) if row.retired_at is None]


def retire(session: Session, kid: str, now: datetime | None = None) -> OIDCSigningKey:
    """Stop publishing a key: id_tokens it signed no longer verify. The signing key cannot be
    retired (rotate first). The caller commits."""
    row = session.get(OIDCSigningKey, kid)
    if row is None or row.retired_at is not None:
        raise NotFound("No such key (or it is retired already).")
    if signing_kid(live(session)) == kid:
        raise InvalidRequest("This key signs id_tokens now: rotate to a new key first.")
    row.retired_at = now or utcnow()
    session.flush()
    forget()
    return row


# -- the per-process key ring -------------------------------------------------------------------

_lock = threading.Lock()
_rings: dict[str, KeyRing] = {}


def forget() -> None:
    """Drop this process's cached rings (after a change made here)."""
    with _lock:
        _rings.clear()


def _cache_key(session: Session, server_key: str) -> str:
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    return url + "\x00" + hashlib.sha256(server_key.encode()).hexdigest()


def ring(session: Session, server_key: str, *, create_missing: bool = True) -> KeyRing:
    """The published keys, cached per process for CACHE_SECONDS. With `create_missing`, the
    first key is made now when there is none (in the caller's write transaction)."""
    cache_key = _cache_key(session, server_key)
    now = time.monotonic()
    with _lock:
        cached = _rings.get(cache_key)
    fresh = cached is not None and now - cached.loaded_at < CACHE_SECONDS
    if cached is not None and fresh and (not cached.empty or not create_missing):
        return cached
    rows = live(session)
    if not rows and create_missing:
        rows = [create(session, server_key, activate_in=0)]  # nothing to wait for
    entries = tuple(
        _Entry(row.kid, row.alg, row.active_from, dict(row.public_jwk), row.sealed_private_key)
        for row in rows
    )
    loaded = KeyRing(entries, server_key, now)
    with _lock:
        _rings[cache_key] = loaded
    return loaded
