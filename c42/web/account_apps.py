"""/account/apps/: the apps a logged-in user authorised (from consent records, STYLE §9),
each with a Disconnect button that deletes the consent and revokes the app's tokens for that
user at once (SPEC §5.3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42.auth import scopes
from c42.auth.oauth import consents
from c42.db import Database
from c42.models import User
from c42.text import is_accepted
from c42.web.csrf import require_csrf
from c42.web.links import with_next
from c42.web.oauth_adapter import evict
from c42.web.session import current_user_id_async
from c42.web.templating import redirect, render, render_error_page

router = APIRouter(include_in_schema=False)
APPS_PATH = "/account/apps/"
LOGIN_PATH = "/accounts/login/"
_NOTICES = {"revoked": "The app is disconnected: its access has ended."}


@router.get(APPS_PATH)
@router.get("/account/apps")
async def apps_page(request: Request) -> Response:
    user_id = await current_user_id_async(request)
    if user_id is None:
        return redirect(with_next(LOGIN_PATH, APPS_PATH), 302)
    db: Database = request.app.state.db

    def load() -> tuple[User | None, list[dict[str, Any]]]:
        with db.session(write=False) as session:
            user = session.get(User, user_id)
            rows = consents.authorised_apps(session, user_id)
        return user, [
            {
                "app_id": row.app_id,
                "app_name": row.app_name,
                "service_name": row.service_name,
                # The consent page's words for each allowed scope (c42.auth.scopes)
                "access": " ".join(
                    words for _, words in scopes.describe(row.scopes, row.service_name)
                ),
                "since": row.since.strftime("%Y-%m-%d"),
            }
            for row in rows
        ]

    user, authorised = await run_in_threadpool(load)
    context = {
        "title": "Connected apps",
        "nav_user": user,
        "apps": authorised,
        "notice": _NOTICES.get(request.query_params.get("notice", "")),
    }
    return render(request, "account_apps.html", context)


@router.post("/account/apps/{app_id}/revoke/")
async def revoke_app(request: Request, app_id: str) -> Response:
    await require_csrf(request)
    user_id = await current_user_id_async(request)
    if user_id is None:
        return redirect(with_next(LOGIN_PATH, APPS_PATH), 303)
    if not is_accepted(app_id):  # SPEC §6 (c42.text): names no app; never reaches the database
        return render_error_page(request, "No such app", "This app is not connected.", 404)
    db: Database = request.app.state.db

    def disconnect() -> list[str]:
        with db.session(write=True) as session:
            return consents.disconnect(session, app_id, user_id)

    revoked = await run_in_threadpool(disconnect)
    evict(request, revoked)  # after commit: stops working in this process at once
    return redirect(APPS_PATH + "?notice=revoked", 303)
