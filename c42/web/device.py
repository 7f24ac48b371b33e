"""The `/device/` page of the device authorization grant (RFC 8628 §3.3, SPEC §11): the user
types the code their device shows (or arrives with it in `verification_uri_complete`), logs
in, and allows or denies the app, as on the consent page of any app.

The Allow is stored as the app's consent record, as on the authorization code flow's consent
page (the app appears under /account/apps/, Disconnect ends its tokens, the audit log has
`consent_given`). Unlike that page, this one asks every time, even when a consent covers the
scopes: RFC 8628 §5.4 (remote phishing) — the code on the device may be an attacker's, so
only the person's explicit Allow for this very code may approve it.

Every code submitted counts against a rate limit per IP and per user (RFC 8628 §5.1: user
codes are short, so guessing must be slow); the decision is CSRF-checked and recorded once.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from c42.auth.oauth import consents, device
from c42.models import OAuthApp, Service, User
from c42.ratelimit import RateLimiter
from c42.web.csrf import require_csrf
from c42.web.forms import db_of
from c42.web.links import with_next
from c42.web.session import current_login_async, current_user_id_async
from c42.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
PATH = device.VERIFICATION_PATH
LOGIN_PATH = "/accounts/login/"
_UNKNOWN = "That code is not valid, or it has expired. Check the code on your device."


@router.get(PATH)
@router.get(PATH.rstrip("/"))
async def device_page(request: Request) -> Response:
    typed = request.query_params.get("user_code", "")
    if await current_user_id_async(request) is None:
        back = PATH + (
            f"?user_code={device.shown(typed)}" if device.normal_user_code(typed) else ""
        )
        return redirect(with_next(LOGIN_PATH, back), 302)
    code = device.shown(typed) if device.normal_user_code(typed) else ""
    return render(request, "device.html", {"title": "Connect a device", "user_code": code})


@router.post(PATH)
async def device_answer(request: Request) -> Response:
    form = await require_csrf(request)
    login = await current_login_async(request)
    if login is None:
        return redirect(with_next(LOGIN_PATH, PATH), 303)
    user_id, auth_time = login.user_id, login.auth_time  # auth_time: an id_token's (OIDC)
    typed = form.get("user_code")
    typed = typed if isinstance(typed, str) and len(typed) <= 40 else ""
    await _limiter(request).hit_or_raise_async(request, user_id)
    settings = request.app.state.settings
    server_key = settings.resolved_secret_key()
    decision = form.get("decision")
    db = db_of(request)

    def work() -> tuple[str, dict[str, object]]:
        with db.session() as session:
            found = device.pending(session, typed, server_key)
            names = session.execute(
                OAuthApp.__table__.select()
                .with_only_columns(OAuthApp.name, Service.name, OAuthApp.disabled_at)
                .join(Service, Service.id == OAuthApp.service_id)
                .where(OAuthApp.id == (found.app_id if found else ""))
            ).first()
            if found is None or names is None or names[2] is not None:
                return "unknown", {}
            if decision in ("allow", "deny"):
                allow = decision == "allow"
                recorded = device.decide(session, found.id, user_id, allow, auth_time)
                if recorded and decision == "allow":  # STYLE §9: consent is a record
                    consents.remember(session, found.app_id, user_id, found.scope)
                return ("allowed" if decision == "allow" else "denied") if recorded else (
                    "unknown"
                ), {"app_name": names[0]}
            user = session.get(User, user_id)
            return "consent", {
                "app_name": names[0],
                "service_name": names[1],
                "scopes": device.scope_words(found.scope, names[1]),
                "nav_user_email": user.email if user else "",
            }

    outcome, values = await run_in_threadpool(work)
    if outcome == "unknown":
        context = {"title": "Connect a device", "user_code": typed[:9], "error": _UNKNOWN}
        return render(request, "device.html", context, 400)
    if outcome == "consent":
        context = {"title": f"Allow {values['app_name']}?", "user_code": device.shown(typed)}
        return render(request, "device_consent.html", {**context, **values})
    allowed = outcome == "allowed"
    message = {
        "title": "Device connected" if allowed else "Access denied",
        "paragraphs": [
            f"{values['app_name']} can now use your C42 account. Go back to your device."
            if allowed
            else f"{values['app_name']} was not given access. You can close this page."
        ],
    }
    return render(request, "message.html", message)


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "device_code_limiter", None)
    if limiter is None:  # one per app, at the login rate, shared through Redis when configured
        settings = state.settings
        limiter = RateLimiter.from_setting(
            "device-code", settings.rate_limit_login, settings.redis_url
        )
        state.device_code_limiter = limiter
    return limiter
