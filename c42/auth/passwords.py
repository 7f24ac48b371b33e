"""Password hashing with argon2id; a dummy verification keeps login timing uniform."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from c42.validation import MIN_PASSWORD_LENGTH

__all__ = ["MIN_PASSWORD_LENGTH", "hash_password", "verify_password"]  # the rule: c42.validation

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("c42-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. Unknown users pass `None` and still pay the hash cost."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
