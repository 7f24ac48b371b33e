"""Console: users (search by e-mail; activate, deactivate, mark verified, revoke all
credentials) and a user's credentials (User Tokens, Action Tokens, OAuth grants per app;
revoke each)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from c42 import accounts, audit
from c42.auth import credentials, evictions
from c42.auth.oauth import consents
from c42.auth.subject import CredentialKind
from c42.errors import NotFound
from c42.models import User
from c42.text import is_accepted
from c42.web.admin import queries
from c42.web.admin.guard import act, page, publish, read, staff_user
from c42.web.csrf import require_csrf
from c42.web.templating import redirect

router = APIRouter(include_in_schema=False)
USERS = "/admin/"
NOTICES = {
    "activated": "The account is active.",
    "deactivated": "The account is deactivated and logged out everywhere.",
    "verified": "The e-mail address is marked verified.",
    "revoked-all": "Every credential of the account is revoked.",
    "revoked": "The credential is revoked.",
    "gone": "Nothing to revoke: the credential was revoked already.",
}


def user_path(user_id: str) -> str:
    return f"/admin/users/{user_id}/"


@router.get(USERS)
async def users_page(request: Request) -> Response:
    staff = await staff_user(request)
    query = (request.query_params.get("email") or "")[:320]
    found = await read(request, lambda s: queries.search_users(s, query))
    context = {"title": "Users", "section": "users", "query": query, "users": found}
    return page(request, staff, "admin/users.html", context)


def _user_or_404(session: Session, user_id: str) -> User:
    user = session.get(User, user_id) if is_accepted(user_id) else None
    if user is None:
        raise HTTPException(404)
    return user


@router.get("/admin/users/{user_id}/")
async def user_page(request: Request, user_id: str) -> Response:
    staff = await staff_user(request)

    def load(session: Session) -> dict[str, Any]:
        user = _user_or_404(session, user_id)
        return {
            "user": user,
            "user_tokens": queries.user_tokens(session, user.id),
            "action_tokens": queries.action_tokens(session, user.id),
            "grants": queries.grants(session, user.id),
            "memberships": queries.memberships(session, user.id),
            "records": [
                audit.as_json(row)
                for row in audit.search(session, audit.Filters(user_id=user.id, limit=20))
            ],
        }

    context = await read(request, load)
    context.update(
        title=context["user"].email,
        section="users",
        notice=NOTICES.get(request.query_params.get("notice", "")),
    )
    return page(request, staff, "admin/user.html", context)


ACCOUNT_ACTIONS = ("activate", "deactivate", "verify", "revoke-all")


@router.post("/admin/users/{user_id}/{action}/")
async def user_action(request: Request, user_id: str, action: str) -> Response:
    staff = await staff_user(request)
    if action not in ACCOUNT_ACTIONS:
        raise HTTPException(404)
    await require_csrf(request)

    def work(session: Session) -> list[str]:
        user = _user_or_404(session, user_id)
        messages: list[str] = []
        detail: dict[str, Any] = {}
        if action in ("activate", "deactivate"):
            accounts.set_active(session, user, action == "activate")
            messages.append(evictions.user(user.id))
        elif action == "verify":
            accounts.mark_verified(session, user)
        else:
            done = credentials.revoke_all(session, user.id)
            messages += done.evictions
            detail = done.counts()
        audit.record(session, f"admin.user_{action.replace('-', '_')}", user_id=user.id, **detail)
        return messages

    publish(request, *await act(request, staff, work))
    notice = {"activate": "activated", "deactivate": "deactivated", "verify": "verified"}
    return redirect(f"{user_path(user_id)}?notice={notice.get(action, 'revoked-all')}", 303)


@router.post("/admin/users/{user_id}/{kind}/{item_id}/revoke/")  # an id: never a secret
async def revoke_credential(request: Request, user_id: str, kind: str, item_id: str) -> Response:
    """Revoke one User Token, Action Token or an app's grant (the tokens, codes and consent)."""
    staff = await staff_user(request)
    if kind not in ("user-tokens", "action-tokens", "grants"):
        raise HTTPException(404)
    await require_csrf(request)
    if not is_accepted(item_id):
        raise HTTPException(404)

    def work(session: Session) -> list[str]:
        user = _user_or_404(session, user_id)
        # Only a credential of the user whose page this is (a crafted or stale form).
        if kind == "user-tokens":
            return [credentials.revoke_user_token(session, item_id, of_user=user.id)]
        if kind == "action-tokens":
            return [credentials.revoke_action_token(session, item_id, of_user=user.id)]
        digests = consents.disconnect(session, item_id, user.id)
        audit.record(
            session,
            audit.Types.CREDENTIAL_REVOKED,
            user_id=user.id,
            client_id=audit.client_of(session, item_id),
            kind="oauth",
            revoked_tokens=len(digests),
        )
        return [evictions.key(CredentialKind.OAUTH, digest) for digest in digests]

    try:
        messages = await act(request, staff, work)
    except NotFound:  # revoked meanwhile (another operator, the user): nothing changed
        return redirect(f"{user_path(user_id)}?notice=gone", 303)
    publish(request, *messages)
    return redirect(f"{user_path(user_id)}?notice=revoked", 303)
