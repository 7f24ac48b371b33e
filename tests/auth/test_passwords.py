"""Password hashing (c42.auth.passwords): the dummy hash that keeps login timing uniform."""

from __future__ import annotations

import subprocess
import sys

import argon2

from c42.auth import passwords
from c42.auth.passwords import hash_password, verify_password

DUMMY_PASSWORD = "c42-dummy-password-for-timing"  # what _DUMMY_HASH hashes


def test_the_dummy_hash_costs_what_a_real_one_costs() -> None:
    """An unknown user's login verifies the constant dummy hash: with the parameters of a
    hash made now (memory, time, lanes, lengths), it takes as long as a known user's."""
    dummy = argon2.extract_parameters(passwords._DUMMY_HASH)
    assert dummy == argon2.extract_parameters(hash_password("a new password"))
    assert argon2.PasswordHasher().verify(passwords._DUMMY_HASH, DUMMY_PASSWORD)


def test_an_unknown_user_never_matches_even_with_the_dummy_password() -> None:
    assert verify_password(None, DUMMY_PASSWORD) is False
    assert verify_password(None, "anything else") is False
    assert verify_password("not an argon2 hash", DUMMY_PASSWORD) is False


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert verify_password(stored, "correct horse battery") is True
    assert verify_password(stored, "correct horse batterz") is False


def test_importing_hashes_nothing() -> None:
    """No argon2 work at import: one hash holds 64 MiB for a moment, and every worker
    imports this module (issue 12: a worker's peak memory)."""
    code = (
        "import argon2\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('hashed at import')\n"
        "argon2.PasswordHasher.hash = refuse\n"
        "argon2.low_level.hash_secret = refuse\n"
        "import c42.auth.passwords\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
