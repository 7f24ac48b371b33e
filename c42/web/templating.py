"""Jinja2 pages with the security headers every page carries (SPEC §6).

Each page gets `X-Frame-Options: DENY`, a CSP without any script source (the pages need no
JavaScript; styles come from /static/c42.css only), `Cross-Origin-Opener-Policy: same-origin`
(no other site's window keeps a handle on a page of ours), `Cache-Control: no-store` (pages
carry CSRF tokens and personal data) and, over HTTPS, HSTS. `Referrer-Policy: no-referrer` and
`X-Content-Type-Options: nosniff` are added to every response by c42.middleware.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from c42.web.session import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

SELF = "'self'"


def content_security_policy(form_action: Iterable[str] | None = (SELF,)) -> str:
    """The pages' CSP. `form_action` lists where forms may post. Chromium applies it to the
    whole redirect chain that answers a form POST, so a page whose form may end in a redirect
    to a client's redirect URI must list that origin; None leaves form-action out (for the
    login page with a `next` that may lead through /oauth2/authorize/ to any registered
    redirect URI, including a native app's custom scheme)."""
    directives = [
        "default-src 'self'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self' https: data:",  # service logos are external https images
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
    if form_action is not None:
        sources = " ".join(form_action) or "'none'"
        directives.append(f"form-action {sources}")
    return "; ".join(directives)


def page_headers(request: Request, form_action: Iterable[str] | None = (SELF,)) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(form_action),
        "X-Frame-Options": "DENY",  # clickjacking (RFC 6749 §10.13)
        # A window of another site that opened one of our pages keeps no handle on it
        # (no `window.opener` either way): no cross-window tricks or leaks on these pages.
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    if request.url.scheme == "https" or request.app.state.settings.issuer.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    *,
    form_action: Iterable[str] | None = (SELF,),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render `template` with `csrf_token` (and `request`) always in the context."""
    values: dict[str, Any] = {"request": request, "csrf_token": csrf_token(request)}
    values.update(context or {})
    html = environment.get_template(template).render(values)
    all_headers = page_headers(request, form_action)
    all_headers.update(headers or {})
    return HTMLResponse(html, status_code=status_code, headers=all_headers)


def render_error_page(
    request: Request,
    title: str,
    message: str,
    status_code: int,
    headers: Mapping[str, str] | None = None,
    back_url: str | None = None,
) -> Response:
    """An error shown to the person in the browser, never a redirect (e.g. an unregistered
    redirect URI, RFC 6749 §4.1.2.1); `back_url`: a page of ours to go back to."""
    context = {"title": title, "message": message, "back_url": back_url}
    return render(request, "error.html", context, status_code, headers=headers)


def redirect(url: str, status_code: int = 303) -> Response:
    """A redirect after a form POST (303: the browser follows with GET), never cached."""
    return RedirectResponse(url, status_code=status_code, headers={"Cache-Control": "no-store"})
