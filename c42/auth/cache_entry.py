"""What the credential cache keeps per digest. Its own module so that the look-up functions of
every credential kind (in their own packages) and `authenticate.py` can share it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from c42.auth.subject import AuthSubject
from c42.models.users import Standing


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What the cache keeps per digest: a subject and its expiry, or the reason it fails."""

    subject: AuthSubject | None
    expires_at: datetime | None = None
    error_code: str = "invalid_token"
    error_message: str = "The token is unknown, expired or revoked."


INACTIVE_USER = CacheEntry(None, None, "inactive_user", "The user account is not active.")


def refusal(standing: Standing) -> CacheEntry | None:
    """Why a holder's account refuses a User or Action Token, if it does: an inactive
    account says so; a sandbox or closed one is just an invalid token (SPEC §5.4)."""
    if standing is Standing.MAY_ACT:
        return None
    return INACTIVE_USER if standing is Standing.INACTIVE else CacheEntry(None)
