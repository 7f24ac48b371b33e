"""Who may call which endpoint, declared once per kind of endpoint (STYLE §6).

Relationship rules are not here (they are in `c42.access`); this is about the credential:
OAuth scopes, and which kinds of credential may manage tokens.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from c42.auth.dpop.challenges import ALGS
from c42.auth.scopes import SERVICE_WRITE
from c42.auth.subject import AuthSubject, CredentialKind
from c42.errors import Forbidden
from c42.resources.deps import authenticated

Reader = Annotated[AuthSubject, Depends(authenticated)]  # any valid credential


def _insufficient_scope(subject: AuthSubject) -> str:
    """The challenge in the scheme the token came with (a bound token only comes as DPoP)."""
    params = f'realm="c42", error="insufficient_scope", scope="{SERVICE_WRITE}"'
    if subject.dpop_jkt is not None:
        return f'DPoP {params}, algs="{ALGS}"'  # RFC 9449 §7.1
    return f"Bearer {params}"


async def _writer(subject: Reader) -> AuthSubject:
    if not subject.can_write:
        # RFC 6750 §3.1: insufficient_scope, naming the scope that is needed.
        raise Forbidden(
            f"This token lacks the {SERVICE_WRITE} scope.",
            code="insufficient_scope",
            headers={"WWW-Authenticate": _insufficient_scope(subject)},
        )
    return subject


async def _token_owner(subject: Reader) -> AuthSubject:
    """Token management needs the user's own User Token (SPEC §5.2: never an Action Token)."""
    if subject.kind is CredentialKind.ACTION_TOKEN:
        raise Forbidden("Action Tokens cannot manage tokens.", code="endpoint_not_allowed")
    if subject.kind is not CredentialKind.USER_TOKEN:
        raise Forbidden("Tokens are managed with a User Token.", code="forbidden")
    return subject


Writer = Annotated[AuthSubject, Depends(_writer)]
TokenOwner = Annotated[AuthSubject, Depends(_token_owner)]
