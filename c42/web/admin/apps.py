"""Console: OAuth apps (create; edit name, redirect URIs, allowed origins, flags; rotate the
secret, shown once; disable and enable), through c42.auth.oauth.apps like `c42 app`."""

from __future__ import annotations

from typing import Any, TypedDict

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from c42 import audit
from c42.auth import evictions
from c42.auth.oauth import apps
from c42.errors import APIError
from c42.models import OAuthApp, User
from c42.text import is_accepted
from c42.web.admin import queries
from c42.web.admin.guard import act, page, publish, read, staff_user
from c42.web.csrf import require_csrf
from c42.web.forms import settings_of, text_field
from c42.web.templating import redirect

router = APIRouter(include_in_schema=False)
APPS = "/admin/apps/"
_ODD = "A field is too long or holds odd text."
NOTICES = {
    "saved": "The app is saved.",
    "disabled": "The app is disabled: its tokens are refused everywhere.",
    "enabled": "The app is enabled again.",
}


def app_path(client_id: str) -> str:
    return f"{APPS}{client_id}/"


def _lines(form: FormData, name: str) -> list[str] | None:
    text = form.get(name, "")
    if not isinstance(text, str) or len(text) > 20_000 or not is_accepted(text, multiline=True):
        return None  # SPEC §6 (c42.text): one value per line, nothing else odd
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) == "on"


# The per-app settings the console shows as checkboxes: (form field and AppSpec/AppChanges
# field, label, OAuthApp attribute); `_Flags` reads each (an unchecked box is sent as nothing).
FLAGS = (
    ("silent", "Silent OAuth (sandbox users)", "allow_silent"),
    ("require_pkce", "Require PKCE", "require_pkce"),
    ("device", "Device grant (RFC 8628: TVs, command lines)", "allow_device"),
    ("require_par", "Require pushed authorization requests (RFC 9126)", "require_par"),
    ("require_dpop", "Require DPoP-bound tokens (RFC 9449)", "require_dpop"),
)


class _Flags(TypedDict):
    silent: bool
    require_pkce: bool
    device: bool
    require_par: bool
    require_dpop: bool


def _flags(form: FormData) -> _Flags:
    return _Flags(
        silent=_checked(form, "silent"),
        require_pkce=_checked(form, "require_pkce"),
        device=_checked(form, "device"),
        require_par=_checked(form, "require_par"),
        require_dpop=_checked(form, "require_dpop"),
    )


async def _list_page(
    request: Request, staff: User, error: str | None = None, values: dict[str, Any] | None = None
) -> Response:
    def load(session: Session) -> dict[str, Any]:
        return {"apps": queries.apps(session), "services": queries.all_services(session)}

    context = await read(request, load)
    context.update(title="Apps", section="apps", error=error, values=values or {}, flags=FLAGS)
    return page(request, staff, "admin/apps.html", context, 400 if error else 200)


@router.get(APPS)
async def apps_page(request: Request) -> Response:
    return await _list_page(request, await staff_user(request))


@router.post(APPS)
async def create_app(request: Request) -> Response:
    staff = await staff_user(request)
    form = await require_csrf(request)
    name = text_field(form, "name", 200)
    service_id = text_field(form, "service_id", 64)
    redirect_uris = _lines(form, "redirect_uris")
    origins = _lines(form, "origins")
    values = {k: form.get(k, "") for k in ("name", "service_id", "redirect_uris", "origins")}
    if name is None or service_id is None or redirect_uris is None or origins is None:
        return await _list_page(request, staff, _ODD, values)
    spec = apps.AppSpec(
        service_id=service_id,
        name=name,
        redirect_uris=redirect_uris,
        public=_checked(form, "public"),
        cors_origins=origins,
        **_flags(form),
    )
    server_key = settings_of(request).resolved_secret_key()

    def work(session: Session) -> apps.CreatedApp:
        created = apps.create(session, server_key, spec)
        audit.record(
            session,
            "admin.app_create",
            client_id=created.client_id,
            service_id=created.service_id,
            public=spec.public,
        )
        return created

    try:
        created = await act(request, staff, work)
    except APIError as exc:
        return await _list_page(request, staff, exc.message, values)
    publish(request, evictions.apps())
    return await _app_page(request, staff, created.client_id, secret=created.client_secret)


async def _app_page(
    request: Request,
    staff: User,
    client_id: str,
    *,
    secret: str | None = None,
    error: str | None = None,
) -> Response:
    if not is_accepted(client_id):
        raise HTTPException(404)

    def load(session: Session) -> dict[str, Any]:
        app = queries.app(session, client_id)
        if app is None:
            raise HTTPException(404)
        return {"app": app, "service": app.service_id}

    context = await read(request, load)
    context.update(
        title=context["app"].name,
        section="apps",
        flags=FLAGS,
        secret=secret,  # SPEC §8: a new secret is shown once, on this answer only
        error=error,
        notice=NOTICES.get(request.query_params.get("notice", "")) if secret is None else None,
    )
    return page(
        request,
        staff,
        "admin/app.html",
        context,
        400 if error else 200,
        no_store=secret is not None,
    )


@router.get("/admin/apps/{client_id}/")
async def app_page(request: Request, client_id: str) -> Response:
    return await _app_page(request, await staff_user(request), client_id)


@router.post("/admin/apps/{client_id}/")
async def update_app(request: Request, client_id: str) -> Response:
    staff = await staff_user(request)
    form = await require_csrf(request)
    name = text_field(form, "name", 200)
    redirect_uris = _lines(form, "redirect_uris")
    origins = _lines(form, "origins")
    if name is None or redirect_uris is None or origins is None:
        return await _app_page(request, staff, client_id, error=_ODD)
    changes = apps.AppChanges(
        name=name,
        redirect_uris=redirect_uris,
        cors_origins=origins,
        **_flags(form),
    )

    def work(session: Session) -> None:
        app = apps.update(session, client_id, changes)
        audit.record(session, "admin.app_update", **apps.update_record(app))

    try:
        await act(request, staff, work)
    except APIError as exc:
        return await _app_page(request, staff, client_id, error=exc.message)
    publish(request, evictions.apps())
    return redirect(app_path(client_id) + "?notice=saved", 303)


@router.post("/admin/apps/{client_id}/rotate-secret/")
async def rotate_secret(request: Request, client_id: str) -> Response:
    staff = await staff_user(request)
    await require_csrf(request)
    server_key = settings_of(request).resolved_secret_key()

    def work(session: Session) -> str:
        app, secret = apps.rotate_secret(session, server_key, client_id)
        audit.record(
            session, "admin.app_rotate_secret", client_id=app.client_id, service_id=app.service_id
        )
        return secret

    try:
        secret = await act(request, staff, work)
    except APIError as exc:
        return await _app_page(request, staff, client_id, error=exc.message)
    publish(request, evictions.apps())
    return await _app_page(request, staff, client_id, secret=secret)


@router.post("/admin/apps/{client_id}/{action}/")
async def set_disabled(request: Request, client_id: str, action: str) -> Response:
    staff = await staff_user(request)
    if action not in ("disable", "enable"):
        raise HTTPException(404)
    await require_csrf(request)

    def work(session: Session) -> OAuthApp:
        app = apps.set_disabled(session, client_id, action == "disable")
        audit.record(
            session, f"admin.app_{action}", client_id=app.client_id, service_id=app.service_id
        )
        return app

    try:
        await act(request, staff, work)
    except APIError as exc:
        return await _app_page(request, staff, client_id, error=exc.message)
    publish(request, evictions.apps())  # SPEC §5.3: a disabled app's tokens, refused at once
    return redirect(app_path(client_id) + f"?notice={action}d", 303)
