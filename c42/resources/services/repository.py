"""Queries of the services resource."""

from __future__ import annotations

from sqlalchemy import RowMapping, select
from sqlalchemy.orm import Session

from c42.models import Service


def public_assets(session: Session, service_id: str) -> RowMapping | None:
    """What anyone may know of a service: its id, name, description and logo."""
    query = select(Service.id, Service.name, Service.description, Service.logo)
    return session.execute(query.where(Service.id == service_id)).mappings().first()
