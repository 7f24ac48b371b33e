"""The only module that creates secrets and turns them into the digests we store.

User and Action Tokens: 160 random bits as 40 lowercase hex (SPEC §5.1), stored as SHA-256.
OAuth artefacts (access/refresh tokens, codes): 256 random bits, URL-safe, stored as SHA-256.
Client secrets: high-entropy random values, stored as HMAC-SHA256 under the server key — a fast
keyed hash is right for random secrets; a password KDF would only slow the token endpoint.
The pair a refresh-token rotation issues is derived, not drawn (`successor_tokens`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import lru_cache

_HEX40 = re.compile(r"[0-9a-f]{40}")


def new_server_token() -> str:
    return secrets.token_hex(20)  # 160 bits


def is_server_token(value: str) -> bool:
    return _HEX40.fullmatch(value) is not None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def successor_tokens(refresh_token: str, token_id: str, server_key: str) -> tuple[str, str]:
    """The (access, refresh) pair that rotating `refresh_token` (stored as row `token_id`)
    issues. Derived, so that a retry within the refresh grace period recomputes the pair the
    first rotation answered while only digests are stored: HMAC-SHA256 under a key kept for
    this purpose alone (itself derived from the server key) over the row id and the presented
    refresh token. Computing it takes both that refresh token (never stored) and the server
    key; 256 bits, URL-safe, the shape of `new_opaque_token`."""
    key = _purpose_key(server_key, "oauth refresh successor")
    material = f"{token_id}:{refresh_token}".encode()
    access = hmac.digest(key, b"access\x00" + material, "sha256")
    refresh = hmac.digest(key, b"refresh\x00" + material, "sha256")
    return _urlsafe(access), _urlsafe(refresh)


@lru_cache(maxsize=8)
def _purpose_key(server_key: str, purpose: str) -> bytes:
    """A key for one use only, so that no derived value can stand in for another's."""
    return hmac.digest(server_key.encode(), purpose.encode(), "sha256")


def _urlsafe(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_client_id() -> str:
    return secrets.token_hex(16)  # public identifier of an OAuth app (RFC 6749 §2.2)


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits; stored as keyed_digest under the server key


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_digest(secret: str, key: str) -> str:
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def same(expected: str, sent: object) -> bool:
    """The one constant-time comparison (SPEC §9): of a secret or digest with a value that
    may come from a client (anything but a string is never the same)."""
    return isinstance(sent, str) and hmac.compare_digest(expected.encode(), sent.encode())
