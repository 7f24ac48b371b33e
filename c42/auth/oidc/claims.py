"""The claims about a user that each identity scope releases (OIDC Core §5.1, §5.4).

Which claim belongs to which scope is said once, in the scope registry (`c42.auth.scopes`,
each identity scope's `claims`); this module only knows how to read each claim off a user.
The id_token and the UserInfo endpoint both take their user claims from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from authlib.oidc.core import UserInfo

from c42.auth import scopes
from c42.models import User


def _name(user: User) -> str | None:
    return " ".join(part for part in (user.first_name, user.last_name) if part) or None


_READERS: dict[str, Callable[[User], Any]] = {
    "sub": lambda user: user.id,  # stable, never reused: the user's opaque id
    "name": _name,
    "given_name": lambda user: user.first_name or None,
    "family_name": lambda user: user.last_name or None,
    "updated_at": lambda user: int(user.modified.replace(tzinfo=UTC).timestamp()),
    "email": lambda user: user.email,
    "email_verified": lambda user: bool(user.email_verified),
}


def user_claims(user: User, granted: str) -> UserInfo:
    """`sub` and the claims of the identity scopes in `granted`; claims without a value are
    left out (OIDC Core §5.3.2)."""
    info = UserInfo(sub=user.id)
    for name in sorted(scopes.parse(granted)):
        scope = scopes.get(name)
        if scope is None or scope.kind is not scopes.ScopeKind.IDENTITY:
            continue
        for claim in scope.claims:
            reader = _READERS.get(claim)
            value = reader(user) if reader else None
            if value is not None:
                info[claim] = value
    return info
