"""The only module that creates secrets and turns them into the digests we store.

User and Action Tokens: 160 random bits as 40 lowercase hex (SPEC §5.1), stored as SHA-256.
OAuth artefacts (access/refresh tokens, codes): 256 random bits, URL-safe, stored as SHA-256.
Client secrets: high-entropy random values, stored as HMAC-SHA256 under the server key — a fast
keyed hash is right for random secrets; a password KDF would only slow the token endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_HEX40 = re.compile(r"[0-9a-f]{40}")


def new_server_token() -> str:
    return secrets.token_hex(20)  # 160 bits


def is_server_token(value: str) -> bool:
    return _HEX40.fullmatch(value) is not None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def new_client_id() -> str:
    return secrets.token_hex(16)  # public identifier of an OAuth app (RFC 6749 §2.2)


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits; stored as keyed_digest under the server key


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_digest(secret: str, key: str) -> str:
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())
