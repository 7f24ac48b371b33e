"""Who may use the console, and how its actions run.

`staff_user` answers exactly what an unknown path answers (the app's own 404) to anonymous
and non-staff callers, before anything else is read from the request (a CSRF failure would
tell that the page exists). `act` runs a change in one transaction in the threadpool, with
every audit record written meanwhile naming the staff user as actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from c42 import audit
from c42.db import Database
from c42.models import User
from c42.web.session import current_user_id_async
from c42.web.templating import render

T = TypeVar("T")
PAGE_CLASS = " page--admin"
CONSOLE = "/admin/"


async def staff_user(request: Request) -> User:
    user_id = await current_user_id_async(request)
    if user_id is None:
        raise HTTPException(404)
    db: Database = request.app.state.db

    def load() -> User | None:
        with db.session(write=False) as session:
            return session.get(User, user_id)

    user = await run_in_threadpool(load)
    if user is None or not user.is_staff or not user.may_act:
        raise HTTPException(404)  # SPEC §8: the console does not exist for them
    return user


async def hidden_from(request: Request) -> bool:
    """Whether `request` names a console path and its caller may not see the console: then
    even a wrong method answers the 404 of an unknown path (a 405 and its `Allow` would tell
    the console is there)."""
    path = request.scope["path"]
    if path != CONSOLE.rstrip("/") and not path.startswith(CONSOLE):
        return False
    try:
        await staff_user(request)
    except HTTPException:
        return True
    return False


async def read(request: Request, work: Callable[[Session], T]) -> T:
    db: Database = request.app.state.db

    def run() -> T:
        with db.session(write=False) as session:
            return work(session)

    return await run_in_threadpool(run)


async def act(request: Request, staff: User, work: Callable[[Session], T]) -> T:
    """One transaction for one console action; records name `staff` as the actor."""
    db: Database = request.app.state.db

    def run() -> T:
        with audit.acting(staff.id), db.session(write=True) as session:
            return work(session)

    return await run_in_threadpool(run)


def publish(request: Request, *messages: str) -> None:
    """After commit: every process drops what it cached of the changed credentials."""
    if messages:
        request.app.state.evictions.publish(*messages)


def page(
    request: Request,
    staff: User,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
    *,
    no_store: bool = False,
) -> Response:
    if no_store:  # a secret shown once must not stay in any cache (c42.middleware)
        request.state.no_store = True
    values = {"nav_user": staff, "page_class": PAGE_CLASS, **context}
    return render(request, template, values, status_code)
