"""Silent OAuth's sandbox users (SPEC §5.4): whether an app may be answered for an address
without any interaction, and the sandbox user of (address, service) it then gets.

No HTTP and no Authlib here: refusals are `SilentRefusal` values carrying the RFC error code;
`c42.auth.silent.authorize` turns them into redirects.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import scopes
from c42.auth.oauth.apps import AppRow
from c42.emails import InvalidEmail, normalise_email
from c42.models import ServiceSubscription, User, utcnow

INVALID_REQUEST = "invalid_request"
INTERACTION_REQUIRED = "interaction_required"  # OpenID Connect Core 1.0 §3.1.2.6
UNAUTHORIZED_CLIENT = "unauthorized_client"  # RFC 6749 §4.1.2.1
INVALID_SCOPE = "invalid_scope"  # RFC 6749 §4.1.2.1

_NORMAL_FLOW = "Send the user through the normal authorization flow (without email_address)."


class SilentRefusal(Exception):
    """The silent request is refused with `error` (an RFC 6749 §4.1.2.1 style code)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def check_app(app: AppRow) -> None:
    """SPEC §5.4: only apps flagged for silent OAuth, and only confidential ones (RFC 8252
    §8.6: a public client's identity cannot be proven, so anyone knowing an address could
    open its sandbox)."""
    if not app.allow_silent or app.is_public or not app.client_secret_digest:
        raise SilentRefusal(UNAUTHORIZED_CLIENT, "This app may not use silent OAuth.")


def check_scope(scope: str) -> None:
    """A sandbox holds only the service's own data: only scopes registered as silent (the
    service scopes; SPEC §10: never `openid`)."""
    requested = scopes.parse(scope)
    if not requested or not scopes.silent_allowed(requested):
        raise SilentRefusal(
            INVALID_SCOPE, "Silent OAuth allows only the service scopes this app may ask for."
        )


def normalised_address(raw: str | None) -> str:
    try:
        return normalise_email(raw or "")  # the one normal form (c42.emails)
    except InvalidEmail:
        raise SilentRefusal(
            INVALID_REQUEST, "'email_address' is not a valid e-mail address."
        ) from None


def blocking_account(session: Session, service_id: str, address: str) -> str | None:
    """The real account that makes this address need the normal flow, if any: an activated
    account (active and verified), or any account related to the service (an active or
    inactive service subscription, admins included). A registered but never verified account
    unrelated to the service does not block (SPEC §5.4)."""
    related = exists().where(
        ServiceSubscription.user_id == User.id, ServiceSubscription.service_id == service_id
    )
    return session.scalar(
        select(User.id).where(
            User.email == address,
            User.sandbox_service_id.is_(None),
            ((User.is_active.is_(True)) & (User.email_verified.is_(True))) | related,
        )
    )


def open_sandbox(session: Session, service_id: str, address: str) -> User | None:
    return session.scalar(
        select(User).where(
            User.email == address,
            User.sandbox_service_id == service_id,
            User.closed_at.is_(None),
        )
    )


def sandbox_user(session: Session, service_id: str, raw_address: str | None) -> User:
    """The open sandbox user of (address, service), created if needed, subscribed to the
    service. Raises SilentRefusal for a malformed address or one that needs the normal flow."""
    address = normalised_address(raw_address)
    if blocking_account(session, service_id, address) is not None:
        raise SilentRefusal(
            INTERACTION_REQUIRED,
            f"This address has an account related to this service or a verified account. "
            f"{_NORMAL_FLOW}",
        )
    user = open_sandbox(session, service_id, address) or _create(session, service_id, address)
    _subscribe(session, service_id, user.id)
    return user


def _create(session: Session, service_id: str, address: str) -> User:
    user = User(
        email=address,
        password_hash=None,  # sandbox users never log in
        is_active=True,
        email_verified=False,
        sandbox_service_id=service_id,
        created=utcnow(),
    )
    try:
        with session.begin_nested():  # a concurrent request may create the same sandbox
            session.add(user)
            session.flush()
    except IntegrityError:
        existing = open_sandbox(session, service_id, address)
        if existing is None:
            raise
        return existing
    audit.record(session, audit.Types.SANDBOX_CREATED, user_id=user.id, service_id=service_id)
    return user


def _subscribe(session: Session, service_id: str, user_id: str) -> None:
    """SPEC §5.4: the sandbox user is subscribed to the service (once; never re-activated)."""
    found = session.scalar(
        select(ServiceSubscription.id).where(
            ServiceSubscription.service_id == service_id, ServiceSubscription.user_id == user_id
        )
    )
    if found is None:
        session.add(ServiceSubscription(service_id=service_id, user_id=user_id, is_active=True))
        session.flush()
