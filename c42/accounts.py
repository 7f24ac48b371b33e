"""Users and services: creation and lookup shared by the CLI, the demo, the API and the web
pages; and an account's life: password login, registration, verification, password reset. No
HTTP, links or mail here (the pages' side is `c42.web.account_flows`); nothing commits."""

from __future__ import annotations

from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth import browser_sessions
from c42.auth.oauth import tokens
from c42.auth.passwords import hash_password, verify_password
from c42.emails import normalise_email
from c42.errors import Conflict, InvalidRequest, NotFound
from c42.models import Service, ServiceSubscription, User
from c42.validation import MAX_PERSON_NAME_LENGTH, check_email, check_name, check_password


def find_user(session: Session, email: str) -> User | None:
    """The real (non-sandbox) account for an address, if any."""
    return session.scalar(
        select(User).where(User.email == normalise_email(email), User.sandbox_service_id.is_(None))
    )


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    return user


def create_user(
    session: Session,
    email: str,
    password: str | None = None,
    *,
    first_name: str = "",
    last_name: str = "",
    active: bool = True,
    verified: bool | None = None,
    staff: bool = False,
) -> User:
    """A new account, by the rules every face shares (`c42.validation`)."""
    address = check_email(email)
    if password is not None:
        check_password(password)
    first_name = check_name(first_name, "first_name", MAX_PERSON_NAME_LENGTH, required=False)
    last_name = check_name(last_name, "last_name", MAX_PERSON_NAME_LENGTH, required=False)
    if find_user(session, address) is not None:
        raise Conflict(f"A user with e-mail {address} already exists.", code="user_exists")
    user = User(
        email=address,
        password_hash=hash_password(password) if password else None,
        first_name=first_name,
        last_name=last_name,
        is_active=active,
        email_verified=active if verified is None else verified,
        is_staff=staff,
    )
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, user: User, active: bool) -> None:
    """Activate (and mark verified) or deactivate an account. Deactivation ends the user's
    browser sessions for good: activating the account again does not bring them back."""
    user.is_active = active
    if active:
        user.email_verified = True
    else:
        browser_sessions.end_sessions(session, user.id)


def set_staff(session: Session, user: User, staff: bool) -> None:
    """Give or take the admin console (SPEC §8). Only real accounts may be staff."""
    if staff and user.sandbox_service_id is not None:
        raise InvalidRequest("A sandbox user cannot be staff.")
    user.is_staff = staff
    session.flush()


def mark_verified(session: Session, user: User) -> None:
    """An operator confirms the address (the user did not follow the link)."""
    user.email_verified = True
    session.flush()


def create_service(session: Session, name: str, admin: User | None = None) -> Service:
    service = Service(name=check_name(name))
    session.add(service)
    session.flush()
    if admin is not None:
        subscribe(session, service.id, admin, admin_role=True)
    return service


def get_service(session: Session, service_id: str) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"No service with id {service_id}.")
    return service


def subscribe(
    session: Session, service_id: str, user: User, *, active: bool = True, admin_role: bool = False
) -> ServiceSubscription:
    subscription = session.scalar(
        select(ServiceSubscription).where(
            ServiceSubscription.service_id == service_id, ServiceSubscription.user_id == user.id
        )
    )
    if subscription is None:
        subscription = ServiceSubscription(service_id=service_id, user_id=user.id)
        session.add(subscription)
    subscription.is_active = active
    subscription.is_admin = subscription.is_admin or admin_role
    session.flush()
    return subscription


# --- an account's life ---------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    INVALID = "invalid"  # unknown address or wrong password: one answer for both
    UNVERIFIED = "unverified"  # right password, e-mail address not confirmed yet
    INACTIVE = "inactive"  # right password, account deactivated


def login_outcome(user: User | None, password: str) -> LoginOutcome:
    """A password login, for the pages and the API alike. Without a real account (unknown
    address, sandbox user) it still pays one argon2 verification against a dummy hash, so
    response time does not reveal which addresses exist."""
    password_hash = user.password_hash if user is not None and user.is_real else None
    if not verify_password(password_hash, password) or user is None:
        return LoginOutcome.INVALID
    if not user.may_act:
        return LoginOutcome.UNVERIFIED if not user.email_verified else LoginOutcome.INACTIVE
    return LoginOutcome.OK


def record_login_failure(session: Session, user: User | None, outcome: LoginOutcome) -> None:
    """The audit record of a refused password login (SPEC §8), pages and API alike: the
    account when the address names a real one, and why (never the password)."""
    audit.record(
        session,
        audit.Types.LOGIN_FAILED,
        user_id=user.id if user is not None and user.is_real else None,
        reason=outcome.value,
    )


class Registered(Enum):
    CREATED = "created"  # a new inactive, unverified account
    RENEWED = "renewed"  # a never verified placeholder (e.g. invited) got this password
    EXISTS = "exists"  # an active account has the address: nothing changed
    DEACTIVATED = "deactivated"  # a deactivated account has it: nothing changed


def register(
    session: Session, address: str, password_hash: str, first_name: str, last_name: str
) -> tuple[Registered, User | None]:
    """Create an inactive, unverified account for `address`, or give a password to an
    inactive, never verified placeholder; an existing account is left as it is."""
    user = find_user(session, address)
    if user is None:
        user = create_user(
            session,
            address,
            None,
            active=False,
            verified=False,
            first_name=first_name,
            last_name=last_name,
        )
        outcome = Registered.CREATED
    elif awaits_verification(user):
        user.first_name, user.last_name = first_name, last_name
        outcome = Registered.RENEWED
    else:
        return (Registered.EXISTS if user.may_act else Registered.DEACTIVATED), None
    user.password_hash = password_hash  # older links stop working: their fingerprint changed
    session.flush()
    audit.record(session, audit.Types.REGISTERED, user_id=user.id, actor_id=user.id)
    return outcome, user


def awaits_verification(user: User) -> bool:
    """A real account never verified nor activated: what a verification link activates."""
    return user.is_real and not user.email_verified and not user.is_active


def activate(session: Session, user: User) -> None:
    """The verification link was followed: the account is active and verified."""
    user.is_active = True
    user.email_verified = True
    audit.record(session, audit.Types.EMAIL_VERIFIED, user_id=user.id, actor_id=user.id)
    session.flush()


def reset_password(session: Session, user: User, password_hash: str) -> list[str]:
    """Set the new password, end every browser session of the user and revoke their OAuth
    tokens (SPEC §5.3) through the one revocation of `c42.auth.oauth.tokens`. Returns the
    revoked access-token digests, to evict from the credential caches after commit."""
    user.password_hash = password_hash
    revoked = tokens.revoke_for_user(session, user.id)
    browser_sessions.end_sessions(session, user.id)  # SPEC §5.3: every browser, this one too
    audit.record(
        session,
        audit.Types.PASSWORD_RESET,
        user_id=user.id,
        actor_id=user.id,
        revoked_oauth_tokens=len(revoked),
    )
    session.flush()
    return revoked
