"""Storage of OAuth apps (clients): registration, look-up by client_id, CORS origins.

A confidential app's secret is shown once, at creation, and stored only as
`keyed_digest(secret, server key)` (HMAC-SHA256: the secret is random, so a fast keyed hash
is right; a password KDF would only slow the token endpoint down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from c42 import compiled
from c42.auth import scopes as scope_registry
from c42.auth import secrets
from c42.auth.oauth import origins
from c42.auth.oauth.redirect_uris import InvalidRedirectURI, validate_registration
from c42.errors import InvalidRequest, NotFound
from c42.models import OAuthApp, Service, utcnow
from c42.text import is_accepted
from c42.unit_of_work import UnitOfWork

_apps = OAuthApp.__table__


class AppRow(NamedTuple):
    """One oauth_apps row as the token endpoint reads it (built by column name)."""

    id: str
    client_id: str
    client_secret_digest: str | None
    service_id: str
    name: str
    redirect_uris: list[str]
    allowed_scopes: str
    is_public: bool
    allow_silent: bool
    require_pkce: bool
    cors_origins: list[str]
    created: datetime
    disabled_at: datetime | None
    post_logout_redirect_uris: list[str]
    allow_device: bool
    require_par: bool
    require_dpop: bool


@dataclass(frozen=True)
class AppSpec:
    service_id: str
    name: str
    redirect_uris: Sequence[str]
    public: bool = False
    silent: bool = False
    require_pkce: bool = False
    cors_origins: Sequence[str] = field(default_factory=tuple)
    # OpenID Connect RP-initiated logout: where /oauth2/logout/ may return (exact match).
    post_logout_redirect_uris: Sequence[str] = field(default_factory=tuple)
    scopes: Sequence[str] = field(default_factory=lambda: sorted(scope_registry.service_scopes()))
    device: bool = False  # RFC 8628: may use the device authorization grant
    require_par: bool = False  # RFC 9126 §6: authorization requests only by request_uri
    require_dpop: bool = False  # RFC 9449: tokens only with a DPoP proof (always bound)


@dataclass(frozen=True)
class CreatedApp:
    id: str
    client_id: str
    client_secret: str | None  # shown once
    service_id: str


def check(spec: AppSpec) -> None:
    """Refuse an app the rules do not allow (400 `invalid_request`, naming the problem)."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise InvalidRequest("An app needs a name of at most 200 characters.")
    if not spec.redirect_uris:
        raise InvalidRequest("An app needs at least one redirect URI.")
    for uri in spec.redirect_uris:
        try:
            validate_registration(uri, public=spec.public)
        except InvalidRedirectURI as exc:
            raise InvalidRequest(f"Invalid redirect URI {exc}.") from exc
    for uri in spec.post_logout_redirect_uris:  # the redirect URI rules (RP-Initiated Logout §3)
        try:
            validate_registration(uri, public=spec.public)
        except InvalidRedirectURI as exc:
            raise InvalidRequest(f"Invalid post-logout redirect URI {exc}.") from exc
    if spec.silent and spec.public:
        # SPEC §5.4 / RFC 8252 §8.6: a public client's identity cannot be proven, so it
        # could open anyone's sandbox by knowing an address.
        raise InvalidRequest("Only confidential apps (with a client secret) may use silent OAuth.")
    if spec.cors_origins and not spec.public:
        raise InvalidRequest("CORS origins are for public (JavaScript) apps only.")
    try:
        origins.normal_origins(spec.cors_origins)
    except origins.InvalidOrigin as exc:
        raise InvalidRequest(f"Invalid origin {exc}.") from exc
    # An app is registered for service scopes; identity scopes (OpenID Connect) are open to
    # every app and never stored with it (c42.auth.oauth.models.Client.allowed_scopes).
    unknown = set(spec.scopes) - scope_registry.service_scopes()
    if unknown or not spec.scopes:
        raise InvalidRequest(
            f"Not a service scope: {', '.join(sorted(unknown)) or '(none)'}"
            f" (one of {', '.join(sorted(scope_registry.service_scopes()))})."
        )


def create(
    session: Session,
    server_key: str,
    spec: AppSpec,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> CreatedApp:
    """Register an app. `client_id`/`client_secret` are generated unless given (the demo
    derives them so that every run prints the same working values)."""
    check(spec)
    if session.get(Service, spec.service_id) is None:
        raise NotFound(f"No service with id {spec.service_id}.")
    secret = None if spec.public else (client_secret or secrets.new_client_secret())
    app = OAuthApp(
        client_id=client_id or secrets.new_client_id(),
        client_secret_digest=secrets.keyed_digest(secret, server_key) if secret else None,
        service_id=spec.service_id,
        name=spec.name.strip(),
        redirect_uris=list(spec.redirect_uris),
        allowed_scopes=scope_registry.join(spec.scopes),
        is_public=spec.public,
        allow_silent=spec.silent,
        require_pkce=spec.require_pkce or spec.public,  # SPEC §5.3: public apps must use PKCE
        cors_origins=origins.normal_origins(spec.cors_origins),
        post_logout_redirect_uris=list(spec.post_logout_redirect_uris),
        allow_device=spec.device,
        require_par=spec.require_par,
        require_dpop=spec.require_dpop,
    )
    session.add(app)
    session.flush()
    return CreatedApp(app.id, app.client_id, secret, app.service_id)


def find(work: UnitOfWork, client_id: str) -> AppRow | None:
    """The app with this client_id (a compiled statement: every token request asks)."""
    if not client_id or len(client_id) > 64 or not is_accepted(client_id):
        return None  # SPEC §6: no such client (and never a NUL byte sent to PostgreSQL)
    statement = compiled.statement(work, "apps.find", _build_find)
    rows = statement.records(work, {"client_id": client_id}, AppRow)
    return rows[0] if rows else None


def by_id(work: UnitOfWork, app_id: str) -> AppRow | None:
    """The app with this id, disabled or not (for naming it in records)."""
    statement = compiled.statement(work, "apps.by_id", _build_by_id)
    rows = statement.records(work, {"app_id": app_id}, AppRow)
    return rows[0] if rows else None


def _build_by_id() -> Any:
    return select(*_apps.c).where(_apps.c.id == bindparam("app_id"))


def _build_find() -> Any:
    # A disabled app is no client at all (RFC 6749 §2: invalid_client, unknown client_id).
    return select(*_apps.c).where(
        _apps.c.client_id == bindparam("client_id"), _apps.c.disabled_at.is_(None)
    )


@dataclass(frozen=True)
class AppChanges:
    """What `c42 app update` may change; None leaves a value as it is."""

    name: str | None = None
    redirect_uris: Sequence[str] | None = None
    cors_origins: Sequence[str] | None = None
    silent: bool | None = None
    require_pkce: bool | None = None
    post_logout_redirect_uris: Sequence[str] | None = None
    device: bool | None = None
    require_par: bool | None = None
    require_dpop: bool | None = None


def update(session: Session, client_id: str, changes: AppChanges) -> OAuthApp:
    """Change a registered app; the whole result is checked by the rules of `check`. Every
    process sees the change within the credential cache time (origins, tokens' apps)."""
    app = session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
    if app is None:
        raise NotFound(f"No app with client_id {client_id}.")
    spec = AppSpec(
        service_id=app.service_id,
        name=app.name if changes.name is None else changes.name,
        redirect_uris=app.redirect_uris if changes.redirect_uris is None else changes.redirect_uris,
        public=app.is_public,
        silent=app.allow_silent if changes.silent is None else changes.silent,
        require_pkce=app.require_pkce if changes.require_pkce is None else changes.require_pkce,
        cors_origins=app.cors_origins if changes.cors_origins is None else changes.cors_origins,
        post_logout_redirect_uris=(
            app.post_logout_redirect_uris or []
            if changes.post_logout_redirect_uris is None
            else changes.post_logout_redirect_uris
        ),
        scopes=sorted(scope_registry.parse(app.allowed_scopes)),
        device=app.allow_device if changes.device is None else changes.device,
        require_par=app.require_par if changes.require_par is None else changes.require_par,
        require_dpop=app.require_dpop if changes.require_dpop is None else changes.require_dpop,
    )
    check(spec)
    app.allow_device = spec.device
    app.require_par = spec.require_par
    app.require_dpop = spec.require_dpop
    app.name = spec.name.strip()
    app.redirect_uris = list(spec.redirect_uris)
    app.cors_origins = origins.normal_origins(spec.cors_origins)
    app.post_logout_redirect_uris = list(spec.post_logout_redirect_uris)
    app.allow_silent = spec.silent
    app.require_pkce = spec.require_pkce or spec.public  # SPEC §5.3: public apps use PKCE
    session.flush()
    return app


def update_record(app: OAuthApp) -> dict[str, Any]:
    """What an `admin.app_update` audit record says of the app after the change (SPEC §8),
    from the console and the CLI alike."""
    return {
        "client_id": app.client_id,
        "service_id": app.service_id,
        "name": app.name,
        "redirect_uris": app.redirect_uris,
        "origins": app.cors_origins,
        "silent": app.allow_silent,
        "require_pkce": app.require_pkce,
        "device": app.allow_device,
        "require_par": app.require_par,
        "require_dpop": app.require_dpop,
    }


def set_disabled(session: Session, client_id: str, disabled: bool) -> OAuthApp:
    """Disable (or enable again) an app. Its tokens are refused and its origins dropped by
    every process within the credential cache time; nothing is deleted, so enabling it
    brings back the grants that had not expired meanwhile."""
    app = session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
    if app is None:
        raise NotFound(f"No app with client_id {client_id}.")
    if disabled and app.disabled_at is None:
        app.disabled_at = utcnow()
    elif not disabled:
        app.disabled_at = None
    session.flush()
    return app


def find_by_name(session: Session, service_id: str, name: str) -> OAuthApp | None:
    return session.scalar(
        select(OAuthApp).where(OAuthApp.service_id == service_id, OAuthApp.name == name)
    )


def set_secret(app: OAuthApp, server_key: str, client_secret: str) -> None:
    app.client_secret_digest = secrets.keyed_digest(client_secret, server_key)


def check_secret(app: AppRow, server_key: str, client_secret: str) -> bool:
    """RFC 6749 §2.3.1, compared in constant time on the digests."""
    if app.is_public or not app.client_secret_digest or not client_secret:
        return False
    return secrets.same(secrets.keyed_digest(client_secret, server_key), app.client_secret_digest)


def public_app_origins(session: Session) -> frozenset[str]:
    """Every web origin registered by a public app, in normal form (what CORS answers for:
    a preflight carries no client_id)."""
    rows = session.scalars(
        select(OAuthApp.cors_origins).where(
            OAuthApp.is_public.is_(True), OAuthApp.disabled_at.is_(None)
        )
    )
    found = (origins.header_origin(origin) for registered in rows for origin in registered or ())
    return frozenset(origin for origin in found if origin)


def rotate_secret(session: Session, server_key: str, client_id: str) -> tuple[OAuthApp, str]:
    """A new client secret for a confidential app, returned once; only its digest is kept, so
    the old secret stops authenticating with this commit (RFC 6749 §2.3.1; nothing caches
    client authentication: `find` reads the row on every request)."""
    app = session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
    if app is None:
        raise NotFound(f"No app with client_id {client_id}.")
    if app.is_public:
        raise InvalidRequest(f"{client_id} is a public app: it has no client secret to rotate.")
    secret = secrets.new_client_secret()
    set_secret(app, server_key, secret)
    session.flush()
    return app, secret


def app_and_service_names(session: Session, client_id: str) -> tuple[str, str] | None:
    """(app name, service name) of an enabled app, for pages that say where a login leads."""
    if not client_id or len(client_id) > 64 or not is_accepted(client_id):
        return None
    row = session.execute(
        select(OAuthApp.name, Service.name)
        .join(Service, Service.id == OAuthApp.service_id)
        .where(OAuthApp.client_id == client_id, OAuthApp.disabled_at.is_(None))
    ).first()
    return (row[0], row[1]) if row is not None else None
