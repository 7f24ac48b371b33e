"""Every router of the resource API, in one list for create_app()."""

from __future__ import annotations

from fastapi import APIRouter

from c42.resources.calendars.endpoints import router as calendars
from c42.resources.events.endpoints import router as events
from c42.resources.services.endpoints import router as services
from c42.resources.subscriptions.endpoints import calendar_router as calendar_subscriptions
from c42.resources.subscriptions.endpoints import event_router as event_subscriptions
from c42.resources.tokens.action_tokens import router as action_tokens
from c42.resources.tokens.user_tokens import router as user_tokens


def api_routers() -> list[APIRouter]:
    """Hottest first (see create_app)."""
    return [
        events,
        services,
        calendars,
        event_subscriptions,
        calendar_subscriptions,
        user_tokens,
        action_tokens,
    ]
