"""CSRF protection for every form (SPEC §5.3): a random per-session token, sent back as the
hidden input `csrf_token`; a POST without the matching value is refused with 403 before
anything is read or written.

The session owns the token (c42.web.session: derived from the session secret once logged in,
kept in the anonymous pre-session before); synchroniser token pattern. `SameSite=Lax` on the
session cookie is a second line of defence, not the only one.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from c42.auth import secrets
from c42.errors import Forbidden, InvalidRequest
from c42.web.cross_site import is_cross_site
from c42.web.session import expected_csrf_token

FIELD = "csrf_token"
MAX_FORM_FIELDS = 50


class CSRFError(Forbidden):
    """Rendered as an HTML 403 page by the handler that `install_web` registers."""

    code = "csrf_failed"
    message = "This form has expired or did not come from this site. Reload the page and retry."


async def read_form(request: Request) -> FormData:
    """The request's form fields (no file uploads); a malformed body is a 400."""
    try:
        return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except (HTTPException, MultiPartException) as exc:
        raise InvalidRequest("The form data could not be read.") from exc


async def require_csrf(request: Request) -> FormData:
    """Read the submitted form and check its CSRF token in constant time; raise CSRFError
    (403) when it is missing or wrong, or when the browser says the form was posted from
    another site (c42.web.cross_site). Returns the form for the handler to use."""
    if is_cross_site(request):
        raise CSRFError()
    form = await read_form(request)
    sent = form.get(FIELD)
    expected = expected_csrf_token(request)
    if not expected or not secrets.same(expected, sent):
        raise CSRFError()
    return form
