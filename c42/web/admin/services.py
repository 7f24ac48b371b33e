"""Console: services (admins, members, sandbox users, apps)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from c42.models import Service
from c42.text import is_accepted
from c42.web.admin import queries
from c42.web.admin.guard import page, read, staff_user

router = APIRouter(include_in_schema=False)


@router.get("/admin/services/")
async def services_page(request: Request) -> Response:
    staff = await staff_user(request)
    found = await read(request, queries.services)
    context = {"title": "Services", "section": "services", "services": found}
    return page(request, staff, "admin/services.html", context)


@router.get("/admin/services/{service_id}/")
async def service_page(request: Request, service_id: str) -> Response:
    staff = await staff_user(request)
    if not is_accepted(service_id):
        raise HTTPException(404)

    def load(session: Session) -> dict[str, Any]:
        service = session.get(Service, service_id)
        if service is None:
            raise HTTPException(404)
        return {
            "service": service,
            "people": queries.people(session, service_id),
            "sandboxes": queries.sandbox_users(session, service_id),
            "apps": queries.apps(session, service_id),
        }

    context = await read(request, load)
    context.update(title=context["service"].name, section="services")
    return page(request, staff, "admin/service.html", context)
