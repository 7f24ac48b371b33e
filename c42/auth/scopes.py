"""The one registry of OAuth scopes (SPEC §9): which scopes exist, what each means.

Every module that needs a scope name, a description or a rule about scopes asks here; no
other module lists scope names. A scope has a kind, and the kind decides where it counts:

- `SERVICE` scopes reach the service API: they are the only ones an `AuthSubject` carries
  (`for_api`), and the only ones silent OAuth may grant (SPEC §5.4: a sandbox holds only the
  service's own data).
- `IDENTITY` scopes (OpenID Connect: `openid`, `profile`, `email`) say who the user is; they
  never reach the service API and are `invalid_scope` in silent OAuth (SPEC §10).

To add a scope, add one `_register(...)` line below (with `claims` for an identity scope);
the consent page, the connected-apps page, the CLI's choices, the app checks and the RFC 8414
`scopes_supported` follow from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ScopeKind(StrEnum):
    SERVICE = "service"  # grants access to the service API
    IDENTITY = "identity"  # OpenID Connect: tells the app who the user is


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    kind: ScopeKind
    description: str  # consent page words; "{service}" becomes the service's name
    silent: bool  # whether silent OAuth (SPEC §5.4) may ask for it
    default: bool = False  # RFC 6749 §3.3: granted when a request names no scope
    claims: tuple[str, ...] = ()  # OpenID Connect Core §5.4: claims this scope releases


_REGISTRY: dict[str, Scope] = {}


def _register(
    name: str,
    kind: ScopeKind,
    description: str,
    *,
    silent: bool | None = None,
    default: bool = False,
    claims: tuple[str, ...] = (),
) -> str:
    """Add a scope; returns its name (for a module constant). Identity scopes are never
    silent unless said otherwise; service scopes are unless said otherwise."""
    if name in _REGISTRY:
        raise ValueError(f"scope {name!r} is registered twice")
    # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if not name or any(c in ' "\\' or not 0x21 <= ord(c) <= 0x7E for c in name):
        raise ValueError(f"scope {name!r} is not a valid RFC 6749 scope-token")
    allowed_silent = kind is ScopeKind.SERVICE if silent is None else silent
    _REGISTRY[name] = Scope(name, kind, description, allowed_silent, default, claims)
    return name


SERVICE_READ = _register(
    "service.read",
    ScopeKind.SERVICE,
    "See your calendars and events related to {service}.",
    default=True,
)
SERVICE_WRITE = _register(
    "service.write",
    ScopeKind.SERVICE,
    "Create, change, delete and share your calendars and events related to {service}.",
)
# OpenID Connect (SPEC §10, OIDC Core §5.4). Any app may ask for them (they tell who signed
# in, nothing of the planning data); never silent.
OPENID = _register(
    "openid",
    ScopeKind.IDENTITY,
    "Know who you are: sign you in with your C42 account.",
    claims=("sub",),
)
PROFILE = _register(
    "profile",
    ScopeKind.IDENTITY,
    "See your name.",
    claims=("name", "given_name", "family_name", "updated_at"),
)
EMAIL = _register(
    "email",
    ScopeKind.IDENTITY,
    "See your e-mail address and whether it is confirmed.",
    claims=("email", "email_verified"),
)


# -- Questions about the registry -------------------------------------------------------------


def get(name: str) -> Scope | None:
    return _REGISTRY.get(name)


def registered() -> tuple[Scope, ...]:
    """Every scope, in registration order."""
    return tuple(_REGISTRY.values())


def names() -> list[str]:
    """Every scope name, sorted (RFC 8414 `scopes_supported`, the CLI's choices)."""
    return sorted(_REGISTRY)


def of_kind(kind: ScopeKind) -> frozenset[str]:
    return frozenset(name for name, scope in _REGISTRY.items() if scope.kind is kind)


def service_scopes() -> frozenset[str]:
    return of_kind(ScopeKind.SERVICE)


def default_scopes() -> frozenset[str]:
    """RFC 6749 §3.3: what a request without `scope` asks for."""
    return frozenset(name for name, scope in _REGISTRY.items() if scope.default)


def known(requested: Iterable[str]) -> bool:
    return all(name in _REGISTRY for name in requested)


def unknown(requested: Iterable[str]) -> set[str]:
    return {name for name in requested if name not in _REGISTRY}


def silent_allowed(requested: Iterable[str]) -> bool:
    """SPEC §5.4 / §10: silent OAuth grants only scopes registered as silent (service scopes;
    never `openid`)."""
    return all((scope := _REGISTRY.get(name)) is not None and scope.silent for name in requested)


def for_api(granted: Iterable[str]) -> frozenset[str]:
    """The scopes a credential carries to the service API: its service scopes only."""
    return frozenset(name for name in granted if _is_service(name))


def _is_service(name: str) -> bool:
    scope = _REGISTRY.get(name)
    return scope is not None and scope.kind is ScopeKind.SERVICE


# -- Scope strings (RFC 6749 §3.3) ------------------------------------------------------------


def parse(scope: str | None) -> frozenset[str]:
    """RFC 6749 §3.3: a space-delimited list; order and repetition carry no meaning."""
    return frozenset((scope or "").split())


def join(scopes: Iterable[str]) -> str:
    """The one spelling of a set of scopes (sorted, single spaces) for storage and responses."""
    return " ".join(sorted(set(scopes)))


def describe(requested: Iterable[str], service: str) -> tuple[tuple[str, str], ...]:
    """(scope, what it allows in words) for the consent page, in registration order (the
    reading order), unknown names last as they are."""
    wanted = set(requested)
    known_words = tuple(
        (scope.name, scope.description.format(service=service))
        for scope in _REGISTRY.values()
        if scope.name in wanted
    )
    return known_words + tuple((name, name) for name in sorted(unknown(wanted)))
