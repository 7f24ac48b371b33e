"""/accounts/security/: the logged-in user's own recent audit records (SPEC §8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42 import audit
from c42.db import Database
from c42.models import User
from c42.web.links import with_next
from c42.web.session import current_user_id_async
from c42.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
SECURITY_PATH = "/accounts/security/"
LOGIN_PATH = "/accounts/login/"
RECENT = 50

# What each record type says to the person whose account it is.
DESCRIPTIONS = {
    audit.Types.LOGIN: "Logged in",
    audit.Types.LOGIN_FAILED: "Failed login attempt",
    audit.Types.LOGOUT: "Logged out",
    audit.Types.REGISTERED: "Account registered",
    audit.Types.EMAIL_VERIFIED: "E-mail address confirmed",
    audit.Types.PASSWORD_RESET_REQUESTED: "Password reset link sent",
    audit.Types.PASSWORD_RESET: "Password changed with a reset link",
    audit.Types.CREDENTIAL_ISSUED: "Credential created",
    audit.Types.CREDENTIAL_REVOKED: "Credential revoked",
    audit.Types.CONSENT_GIVEN: "App allowed",
    audit.Types.CONSENT_WITHDRAWN: "App disconnected",
    audit.Types.CODE_REPLAY: "An app's authorization code was used twice: its tokens revoked",
    audit.Types.REFRESH_REUSE: "An old refresh token was reused: the app's tokens revoked",
    audit.Types.SANDBOX_CREATED: "Sandbox account created",
    audit.Types.SANDBOX_MERGED: "Sandbox account merged into this account",
    audit.Types.SANDBOX_MERGE_FAILED: "Sandbox merge failed",
    audit.Types.RATE_LIMITED: "Too many login attempts: logins paused",
}
_KINDS = {"user_token": "User Token", "action_token": "Action Token", "oauth": "OAuth grant"}


def describe(row: Any) -> str:
    text = DESCRIPTIONS.get(row.type)
    if text is None:
        text = "Changed by an administrator" if row.type.startswith("admin.") else row.type
    kind = (row.detail or {}).get("kind")
    if kind in _KINDS:
        text = f"{text}: {_KINDS[kind]}"
    return text


def _own_origin(row: Any, user_id: str) -> bool:
    """Whether the record's IP and user agent are the user's to see: a change they made, or
    one nobody is named for (a failed login against the account). Another person's change
    (a staff user's console action, another user's Action Token) keeps its origin from them."""
    return row.actor_id is None or row.actor_id == user_id


@router.get(SECURITY_PATH)
async def security_page(request: Request) -> Response:
    user_id = await current_user_id_async(request)
    if user_id is None:
        return redirect(with_next(LOGIN_PATH, SECURITY_PATH), 302)
    db: Database = request.app.state.db

    def load() -> tuple[User | None, list[dict[str, Any]]]:
        with db.session(write=False) as session:
            user = session.get(User, user_id)
            rows = audit.search(session, audit.Filters(user_id=user_id, limit=RECENT))
        return user, [
            {
                "time": row.time.strftime("%Y-%m-%d %H:%M UTC"),
                "what": describe(row),
                "app": row.client_id or "",
                "ip": (row.ip or "") if _own_origin(row, user_id) else "",
                "agent": (row.user_agent or "") if _own_origin(row, user_id) else "",
            }
            for row in rows
        ]

    user, records = await run_in_threadpool(load)
    if user is None:
        return redirect(with_next(LOGIN_PATH, SECURITY_PATH), 302)
    context = {"title": "Security activity", "nav_user": user, "records": records}
    return render(request, "account_security.html", context)
