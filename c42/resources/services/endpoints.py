"""/api/v2/services/{id}/ — the public assets of a service."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from c42.access.policy import authorize_service
from c42.db import current_sync_token
from c42.errors import NotFound
from c42.resources import common
from c42.resources.auth import Reader
from c42.resources.deps import SessionDep
from c42.resources.services import repository as repo

router = APIRouter(prefix="/api/v2/services", tags=["services"])


@router.get("/{id}/")
def get_service(subject: Reader, session: SessionDep, id: str) -> Response:
    service_id = common.check_id(id, "Service")
    authorize_service(subject, service_id)
    row = repo.public_assets(session, service_id)
    if row is None:
        raise NotFound("Service not found.")
    return common.one(dict(row), current_sync_token(session))
