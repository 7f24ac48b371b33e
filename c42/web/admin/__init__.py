"""The admin console at /admin/ (SPEC §8): staff users only, 404 for everyone else.

Our own pages rather than an admin library: the console must use the login session, the page
style and the CSRF tokens of the other pages, write through the domain functions (accounts,
apps, credential revocation) so that every rule exists once, and audit every action with the
staff user as actor; see docs/operators.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from c42.web.admin import apps, audit_log, services, users


def router() -> APIRouter:
    combined = APIRouter(include_in_schema=False)
    for module in (users, apps, services, audit_log):
        combined.include_router(module.router)
    return combined
