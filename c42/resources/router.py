"""Every router of the resource API, in one list for create_app()."""

from __future__ import annotations

from fastapi import APIRouter

from c42.resources.events.endpoints import router as events


def api_routers() -> list[APIRouter]:
    return [events]
