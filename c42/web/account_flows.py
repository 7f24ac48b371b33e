"""The account pages' units of work: each opens one transaction (blocking; pages call them in
a threadpool), applies the account rules of `c42.accounts`, and signs the e-mailed links and
writes the e-mail to send, if any, so the page can send it after committing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from c42 import accounts, audit
from c42.accounts import LoginOutcome
from c42.auth import secrets
from c42.auth.passwords import hash_password
from c42.db import Database
from c42.emails import InvalidEmail, normalise_email
from c42.logs import get_logger
from c42.models import User
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


# --- login -------------------------------------------------------------------------------


def check_login(db: Database, email: str, password: str) -> tuple[LoginOutcome, User | None]:
    """The account for (email, password), by `accounts.login_outcome`."""
    address = _email_or_none(email)
    with db.session(write=False) as session:
        user = accounts.find_user(session, address) if address else None
    outcome = accounts.login_outcome(user, password)
    if outcome is LoginOutcome.OK:
        return outcome, user  # recorded with the session it starts (web.session)
    with db.session() as session:
        accounts.record_login_failure(session, user, outcome)
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
            outcome, user = accounts.register(session, address, new_hash, first_name, last_name)
            if outcome is accounts.Registered.EXISTS:
                return Registration(None, _account_exists_mail(settings, address))
            if user is None:
                return Registration(None, None)  # deactivated: nothing to send
            user_id, fingerprint = user.id, password_fingerprint(settings, user.password_hash)
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
    if user is None or not accounts.awaits_verification(user):
        return None
    if not secrets.same(password_fingerprint(settings, user.password_hash), payload.get("f")):
        return None
    next_url = payload.get("n")
    return PendingVerification(user, next_url if isinstance(next_url, str) else None)


def activate(db: Database, settings: Settings, token: str) -> PendingVerification | None:
    """Mark the account active and verified (the link is then used up)."""
    with db.session() as session:
        pending = _pending_verification(session, settings, token, lock=True)
        if pending is not None:
            accounts.activate(session, pending.user)
        return pending


# --- password reset ----------------------------------------------------------------------


def password_reset_mail(db: Database, settings: Settings, email: str) -> Mail | None:
    """A reset link for an active account with this address; None for any other address."""
    address = _email_or_none(email)
    if address is None:
        return None
    with db.session(write=False) as session:
        user = accounts.find_user(session, address)
    if user is None or not user.may_act:
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
    if user is None or not user.may_act:
        return None
    if not secrets.same(password_fingerprint(settings, user.password_hash), payload.get("f")):
        return None  # used already (or the password changed since the link was sent)
    return user


@dataclass(frozen=True)
class PasswordReset:
    user: User
    revoked_access_digests: list[str]  # to evict from the credential caches after commit


def reset_password(
    db: Database, settings: Settings, token: str, new_password: str
) -> PasswordReset | None:
    """`accounts.reset_password` for the account of a live reset link (the changed hash also
    ends the link itself)."""
    new_hash = hash_password(new_password)
    with db.session() as session:
        user = _reset_user(session, settings, token, lock=True)
        if user is None:
            return None
        return PasswordReset(user, accounts.reset_password(session, user, new_hash))
