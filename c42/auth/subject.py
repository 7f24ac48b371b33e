"""The authenticated caller: one immutable value built in `authenticate.py`, read everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from c42.auth import scopes as scope_registry


class CredentialKind(StrEnum):
    USER_TOKEN = "Token"
    ACTION_TOKEN = "ActionToken"
    OAUTH = "Bearer"


@dataclass(frozen=True, slots=True)
class Grant:
    """One endpoint an Action Token may call: method + route template + pinned path params."""

    method: str
    route: str
    params: tuple[tuple[str, str], ...] = ()

    def allows(self, method: str, route: str, path_params: dict[str, str]) -> bool:
        if method != self.method or route != self.route:
            return False
        return all(path_params.get(name) == value for name, value in self.params)


@dataclass(frozen=True, slots=True)
class AuthSubject:
    user_id: str
    kind: CredentialKind
    credential_id: str
    service_id: str | None = None  # when set, only data related to this service is reachable
    # Service scopes only (c42.auth.scopes.for_api): identity scopes never reach the API.
    scopes: frozenset[str] = field(default_factory=scope_registry.service_scopes)
    is_sandbox: bool = False
    is_staff: bool = False
    grants: tuple[Grant, ...] = ()  # Action Tokens only
    max_uses: int | None = None  # Action Tokens only
    origins: frozenset[str] = frozenset()  # OAuth: web origins of a public (JavaScript) app
    client_id: str | None = None  # OAuth: the app's client_id (for logs)
    # OAuth: RFC 7638 thumbprint of the DPoP key the access token is bound to (RFC 9449 §6);
    # such a token is honoured only with the DPoP scheme and a proof by that key.
    dpop_jkt: str | None = None

    @property
    def can_write(self) -> bool:
        return scope_registry.SERVICE_WRITE in self.scopes
