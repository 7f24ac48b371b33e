"""Queries of the services resource."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from c42.models import Service


def public_assets(session: Session, service_id: str) -> Row[Any] | None:
    """What anyone may know of a service: its name, description and logo."""
    query = select(Service.id, Service.name, Service.description, Service.logo)
    return session.execute(query.where(Service.id == service_id)).first()
