"""`/`: the start page (SPEC §8): log in or register, the API docs and the metadata documents."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from c42.web.accounts import current_user
from c42.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def start_page(request: Request) -> Response:
    user = await current_user(request)
    return render(request, "start.html", {"title": "Welcome", "nav_user": user})
