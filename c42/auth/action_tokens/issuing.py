"""Who may hold an Action Token created by whom (SPEC §5.2).

- For oneself: always (optionally narrowed to a service one is actively subscribed to).
- For another user: only as an active admin of a service S that user is actively subscribed
  to; the token then reaches only S's data. When the caller administers several services the
  user is in, `service_id` must choose one.
- Never for a sandbox user (SPEC §5.4) nor for an inactive one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from c42.auth.action_tokens import repository
from c42.errors import Forbidden, InvalidRequest
from c42.models import User
from c42.models.users import Standing


def _not_delegable() -> Forbidden:
    # The same answer whether or not the user exists: never reveal accounts.
    return Forbidden(
        "You can create an Action Token for another user only as an admin of a service "
        "that user is subscribed to.",
        code="forbidden",
    )


def check_holder(user: User) -> None:
    if user.may_act:
        return
    if user.standing is Standing.INACTIVE:
        raise InvalidRequest("The user account is not active.", fields={"user_id": "inactive"})
    raise InvalidRequest(
        "Sandbox users cannot hold Action Tokens.", fields={"user_id": "sandbox user"}
    )


def resolve_holder(
    session: Session, caller_id: str, user_id: str | None, service_id: str | None
) -> tuple[User, str | None]:
    """The token's holder and service restriction, or 400/403."""
    if user_id is None or user_id == caller_id:
        if service_id is not None and not repository.is_subscribed(session, caller_id, service_id):
            raise InvalidRequest(
                "You can narrow a token only to a service you are subscribed to.",
                fields={"service_id": "not subscribed"},
            )
        holder = session.get(User, caller_id)
        if holder is None:  # pragma: no cover - the caller's token proves the user exists
            raise _not_delegable()
        check_holder(holder)
        return holder, service_id
    services = repository.delegable_services(session, caller_id, user_id)
    if service_id is not None:
        if service_id not in services:
            raise _not_delegable()
    elif not services:
        raise _not_delegable()
    elif len(services) > 1:
        raise InvalidRequest(
            "You administer several services this user is subscribed to: choose one with "
            "service_id.",
            fields={"service_id": "required (ambiguous)"},
        )
    else:
        service_id = services[0]
    holder = session.get(User, user_id)
    if holder is None:  # pragma: no cover - a subscribed user exists
        raise _not_delegable()
    check_holder(holder)
    return holder, service_id
