"""Resolving the user a share or invitation is for (SPEC §4, C42 `subscriber` shape)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42.emails import InvalidEmail, normalise_email
from c42.errors import InvalidRequest
from c42.models import User
from c42.models.users import is_real
from c42.resources.subscriptions.schemas import Subscriber


def resolve(session: Session, subscriber: Subscriber) -> str:
    """The id of a real (never sandbox) account. An unknown address gets a placeholder account:
    inactive and unverified until its owner registers, so the invitation waits for them."""
    if subscriber.user_id is not None:
        user_id = session.scalar(
            select(User.id).where(User.id == subscriber.user_id, is_real(User.__table__))
        )
        if user_id is None:
            raise InvalidRequest("No such user.", fields={"subscriber.user_id": "unknown"})
        return user_id
    try:
        address = normalise_email(subscriber.email or "")
    except InvalidEmail:
        raise InvalidRequest(
            "Invalid e-mail address.", fields={"subscriber.email": "invalid"}
        ) from None
    user = session.scalar(
        select(User).where(User.email == address, User.sandbox_service_id.is_(None))
    )
    if user is None:
        user = User(email=address, is_active=False, email_verified=False)
        session.add(user)
        session.flush()
    return user.id
