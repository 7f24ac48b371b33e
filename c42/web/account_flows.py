"""What the account pages do, without HTTP: check a login, register, verify an address, reset
a password. Each function is one unit of work (blocking; pages call them in a threadpool) and
returns the e-mail to send, if any, so the page can send it after committing.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from c42 import accounts, audit
from c42.auth import browser_sessions
from c42.auth.passwords import hash_password, verify_password
from c42.db import Database
from c42.emails import InvalidEmail, normalise_email
from c42.logs import get_logger
from c42.models import OAuthToken, User, utcnow
from c42.settings import Settings
from c42.web.links import SignedLinks, absolute, with_next
from c42.web.session import password_fingerprint

log = get_logger("c42.accounts")
VERIFY_PURPOSE, VERIFY_MAX_AGE = "verify-email", 3 * 24 * 3600  # seconds
RESET_PURPOSE, RESET_MAX_AGE = "password-reset", 3600


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def _email_or_none(raw: str) -> str | None:
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return None


def _is_real(user: User | None) -> bool:
    return user is not None and user.sandbox_service_id is None and user.closed_at is None


# --- login -------------------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    INVALID = "invalid"  # unknown address or wrong password: one answer for both
    UNVERIFIED = "unverified"  # right password, e-mail address not confirmed yet
    INACTIVE = "inactive"  # right password, account deactivated


def check_login(db: Database, email: str, password: str) -> tuple[LoginOutcome, User | None]:
    """The account for (email, password). Unknown addresses still pay one argon2 verification
    against a dummy hash, so response time does not reveal which addresses exist."""
    address = _email_or_none(email)
    with db.session(write=False) as session:
        user = accounts.find_user(session, address) if address else None
    password_hash = user.password_hash if _is_real(user) and user is not None else None
    if not verify_password(password_hash, password) or user is None:
        outcome = LoginOutcome.INVALID
    elif not user.is_active:
        outcome = LoginOutcome.UNVERIFIED if not user.email_verified else LoginOutcome.INACTIVE
    else:
        return LoginOutcome.OK, user  # recorded with the session it starts (web.session)
    with db.session() as session:
        audit.record(
            session,
            audit.Types.LOGIN_FAILED,
            user_id=user.id if user is not None and _is_real(user) else None,
            reason=outcome.value,
        )
    return outcome, None


# --- registration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    user_id: str | None  # the account whose verification link was sent, if one was
    mail: Mail | None


def register(
    db: Database,
    settings: Settings,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    next_url: str | None,
) -> Registration:
    """Create an inactive, unverified account (or give a password to an inactive, never
    verified placeholder, e.g. one created by an invitation) and prepare the verification
    mail. An existing active account gets an "account exists" mail instead; the page shows
    the same answer in every case (no account enumeration)."""
    address = normalise_email(email)  # the page checked it already
    new_hash = hash_password(password)  # always, so every branch costs the same
    try:
        with db.session() as session:
            user = accounts.find_user(session, address)
            if user is None:
                user = accounts.create_user(
                    session,
                    address,
                    None,
                    active=False,
                    verified=False,
                    first_name=first_name,
                    last_name=last_name,
                )
                user.password_hash = new_hash
            elif not user.is_active and not user.email_verified:
                user.password_hash = new_hash  # older links stop working: fingerprint changed
                user.first_name, user.last_name = first_name, last_name
            elif user.is_active:
                return Registration(None, _account_exists_mail(settings, address))
            else:
                return Registration(None, None)  # deactivated: nothing to send
            session.flush()
            user_id, fingerprint = user.id, password_fingerprint(settings, user.password_hash)
            audit.record(session, audit.Types.REGISTERED, user_id=user_id, actor_id=user_id)
    except IntegrityError:
        log.info("registration for %s raced with another one", address)
        return Registration(None, None)
    token = SignedLinks(settings).dumps(
        VERIFY_PURPOSE, {"u": user_id, "f": fingerprint, "n": next_url}
    )
    link = absolute(settings, f"/accounts/verify/{token}")
    body = (
        "Welcome to C42.\n\n"
        "Confirm your e-mail address to activate your account:\n\n"
        f"{link}\n\n"
        "The link works for 3 days. If you did not create a C42 account, ignore this message:"
        " without the confirmation nobody can use the account.\n"
    )
    return Registration(user_id, Mail(address, "Confirm your e-mail address for C42", body))


def _account_exists_mail(settings: Settings, address: str) -> Mail:
    body = (
        "Someone (hopefully you) tried to create a C42 account with this e-mail address,\n"
        "but an account already exists for it.\n\n"
        f"Log in: {absolute(settings, '/accounts/login/')}\n"
        f"Forgot your password? {absolute(settings, '/accounts/password-reset/')}\n\n"
        "If it was not you, you can ignore this message.\n"
    )
    return Mail(address, "You already have a C42 account", body)


@dataclass(frozen=True)
class PendingVerification:
    user: User
    next_url: str | None


def read_verification(db: Database, settings: Settings, token: str) -> PendingVerification | None:
    """The not-yet-verified account a verification link is for, or None when the link is
    forged, expired, superseded by a newer registration, or already used."""
    with db.session(write=False) as session:
        return _pending_verification(session, settings, token)


def _pending_verification(
    session: Session, settings: Settings, token: str, lock: bool = False
) -> PendingVerification | None:
    payload = SignedLinks(settings).loads(VERIFY_PURPOSE, token, VERIFY_MAX_AGE)
    if payload is None or not isinstance(payload.get("u"), str):
        return None
    user = session.get(User, payload["u"], with_for_update=lock)
    if user is None or not _is_real(user) or user.email_verified or user.is_active:
        return None
    if not _same(password_fingerprint(settings, user.password_hash), payload.get("f")):
        return None
    next_url = payload.get("n")
    return PendingVerification(user, next_url if isinstance(next_url, str) else None)


def activate(db: Database, settings: Settings, token: str) -> PendingVerification | None:
    """Mark the account active and verified (the link is then used up)."""
    with db.session() as session:
        pending = _pending_verification(session, settings, token, lock=True)
        if pending is None:
            return None
        user = pending.user
        user.is_active = True
        user.email_verified = True
        audit.record(session, audit.Types.EMAIL_VERIFIED, user_id=user.id, actor_id=user.id)
        session.flush()
        return pending


# --- password reset ----------------------------------------------------------------------


def password_reset_mail(db: Database, settings: Settings, email: str) -> Mail | None:
    """A reset link for an active account with this address; None for any other address."""
    address = _email_or_none(email)
    if address is None:
        return None
    with db.session(write=False) as session:
        user = accounts.find_user(session, address)
    if user is None or not _is_real(user) or not user.is_active:
        return None
    with db.session() as session:
        audit.record(session, audit.Types.PASSWORD_RESET_REQUESTED, user_id=user.id)
    # The fingerprint of the current password hash makes the link single-use: once the
    # password changes, it no longer matches.
    token = SignedLinks(settings).dumps(
        RESET_PURPOSE, {"u": user.id, "f": password_fingerprint(settings, user.password_hash)}
    )
    link = absolute(settings, with_next(f"/accounts/password-reset/{token}", None))
    body = (
        "Someone (hopefully you) asked to reset the password of your C42 account.\n\n"
        f"Choose a new password here (the link works for one hour, once):\n\n{link}\n\n"
        "Setting a new password logs you out everywhere and disconnects the apps that act\n"
        "for you. If you did not ask for this, ignore this message: your password stays.\n"
    )
    return Mail(address, "Reset your C42 password", body)


def read_reset(db: Database, settings: Settings, token: str) -> User | None:
    """The account a reset link is for, or None when it is forged, expired or used."""
    with db.session(write=False) as session:
        return _reset_user(session, settings, token)


def _reset_user(
    session: Session, settings: Settings, token: str, lock: bool = False
) -> User | None:
    payload = SignedLinks(settings).loads(RESET_PURPOSE, token, RESET_MAX_AGE)
    if payload is None or not isinstance(payload.get("u"), str):
        return None
    user = session.get(User, payload["u"], with_for_update=lock)  # lock: one reset wins
    if user is None or not _is_real(user) or not user.is_active:
        return None
    if not _same(password_fingerprint(settings, user.password_hash), payload.get("f")):
        return None  # used already (or the password changed since the link was sent)
    return user


def reset_password(db: Database, settings: Settings, token: str, new_password: str) -> User | None:
    """Set the new password (the changed hash also ends the link itself), end every browser
    session of the user and revoke their OAuth tokens (SPEC §5.3)."""
    new_hash = hash_password(new_password)
    with db.session() as session:
        user = _reset_user(session, settings, token, lock=True)
        if user is None:
            return None
        now = utcnow()
        user.password_hash = new_hash
        # SPEC §5.3: a reset revokes the user's refresh (and access) tokens; earlier
        # revocation times are kept.
        result = session.execute(
            update(OAuthToken)
            .where(
                OAuthToken.user_id == user.id,
                or_(
                    OAuthToken.refresh_revoked_at.is_(None), OAuthToken.access_revoked_at.is_(None)
                ),
            )
            .values(
                refresh_revoked_at=func.coalesce(OAuthToken.refresh_revoked_at, now),
                access_revoked_at=func.coalesce(OAuthToken.access_revoked_at, now),
            )
        )
        revoked = int(cast(CursorResult[Any], result).rowcount)
        browser_sessions.end_sessions(session, user.id)  # SPEC §5.3: every browser, this one too
        audit.record(
            session,
            audit.Types.PASSWORD_RESET,
            user_id=user.id,
            actor_id=user.id,
            revoked_oauth_tokens=revoked,
        )
        session.flush()
        return user


def _same(expected: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(expected.encode(), sent.encode())
