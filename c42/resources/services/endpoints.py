"""/api/v2/services/{id}/ — the public assets of a service."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import Response

from c42.db import current_sync_token
from c42.errors import NotFound
from c42.models import Service
from c42.resources import common
from c42.resources.auth import Reader
from c42.resources.deps import SessionDep

router = APIRouter(prefix="/api/v2/services", tags=["services"])


@router.get("/{id}/")
def get_service(subject: Reader, session: SessionDep, id: str) -> Response:
    service_id = common.check_id(id, "Service")
    if subject.service_id is not None and subject.service_id != service_id:
        raise NotFound("Service not found.")  # a service-restricted caller sees only its own
    row = session.execute(
        select(Service.id, Service.name, Service.description, Service.logo).where(
            Service.id == service_id
        )
    ).first()
    if row is None:
        raise NotFound("Service not found.")
    data = {"id": row.id, "name": row.name, "description": row.description, "logo": row.logo}
    return common.one(data, current_sync_token(session))
