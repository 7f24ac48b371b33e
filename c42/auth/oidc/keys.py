"""The id_token signing keys (SPEC §10): made, sealed, rotated, retired, published.

Keys live in `oidc_signing_keys`. The private key is stored only sealed: AES-256-GCM under a
key derived by HKDF-SHA256 from the server secret, with the key id as associated data (a
sealed key copied onto another row does not open). The public JWK is stored in clear.

- The newest key not retired signs. `rotate` makes a new one (RS256 or ES256), which signs
  from then on; the earlier keys stay published in the JWKS until `retire`d, so id_tokens
  signed before a rotation still verify (OIDC Core §10.1.1). The signing key itself cannot
  be retired: rotate first.
- The first key is made on first use (an RS256 key).
- Each process keeps the key ring for at most `CACHE_SECONDS`, so a rotation or retirement
  made by another process (`c42 keys rotate`) is used everywhere within that time; the JWKS
  may be cached by clients for as long (its Cache-Control).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
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
_SEALED_VERSION = "v1"
_HKDF_INFO = b"c42 oidc signing key seal v1"

Key = RSAKey | ECKey


@dataclass(frozen=True)
class KeyRing:
    """The keys as one process uses them for up to CACHE_SECONDS."""

    signing_kid: str | None
    signing_alg: str | None
    signing_key: Key | None  # private
    public_keys: tuple[dict[str, Any], ...]  # every key not retired, signing key first
    loaded_at: float

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 §5: the JWK Set document of /oauth2/jwks/."""
        return {"keys": list(self.public_keys)}

    def public_key(self, kid: str) -> Key | None:
        for jwk in self.public_keys:
            if jwk["kid"] == kid:
                return _import(jwk)
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


def create(session: Session, server_key: str, alg: str = DEFAULT_ALGORITHM) -> OIDCSigningKey:
    """A new key, which signs from now on (in this process at once, in others within
    CACHE_SECONDS). The caller commits."""
    key = _generate(alg)
    kid = key.thumbprint()  # RFC 7638: the key id is the key's own thumbprint
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    row = OIDCSigningKey(
        kid=kid,
        alg=alg,
        public_jwk=public,
        sealed_private_key=seal(server_key, kid, key.as_dict(private=True)),
        created=utcnow(),
    )
    session.add(row)
    session.flush()
    forget()
    return row


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
    current = live(session)
    if current and current[0].kid == kid:
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
    """The keys to sign and verify with, cached per process for CACHE_SECONDS. With
    `create_missing`, the first key is made now when there is none (in the caller's write
    transaction)."""
    cache_key = _cache_key(session, server_key)
    now = time.monotonic()
    with _lock:
        cached = _rings.get(cache_key)
    fresh = cached is not None and now - cached.loaded_at < CACHE_SECONDS
    if cached is not None and fresh and (cached.signing_key is not None or not create_missing):
        return cached
    rows = live(session)
    if not rows and create_missing:
        rows = [create(session, server_key)]
    loaded = _load(rows, server_key, now)
    with _lock:
        _rings[cache_key] = loaded
    return loaded


def _load(rows: list[OIDCSigningKey], server_key: str, now: float) -> KeyRing:
    if not rows:
        return KeyRing(None, None, None, (), now)
    newest = rows[0]
    private = _import(unseal(server_key, newest.kid, newest.sealed_private_key))
    public = tuple(dict(row.public_jwk) for row in rows)
    return KeyRing(newest.kid, newest.alg, private, public, now)
