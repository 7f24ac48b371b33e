"""Password hashing with argon2id; a dummy verification keeps login timing uniform."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from c42.validation import MIN_PASSWORD_LENGTH

__all__ = ["MIN_PASSWORD_LENGTH", "hash_password", "verify_password"]  # the rule: c42.validation

_hasher = PasswordHasher()
# An argon2id hash of a throwaway password with _hasher's parameters (tests/auth/
# test_passwords.py checks that they match): verifying it costs what a real verification
# costs. A constant, not hashed at import: one hash holds 64 MiB for a moment, which was
# every worker's peak memory (issue 12: <= 150 MB).
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4"
    "$7LxHJQ/Sp2A+jj3IavJ25w$GOLCfiDzj8yo4FVpjd28691ppoUJLl4QUj0w6cCCxPI"
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. Unknown users pass `None` and still pay the hash cost."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
