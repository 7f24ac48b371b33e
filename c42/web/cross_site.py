"""Is a form POST coming from another site? Checked for every state-changing form beside the
CSRF token (c42.web.csrf) and the `SameSite=Lax` session cookie: defence in depth, from what
the browser itself says about where the request comes from.

- `Sec-Fetch-Site` (Fetch Metadata): only `same-origin` (our own page) and `none` (the user's
  own action, e.g. a bookmark) may post; `same-site` (a sibling host) and `cross-site` may not.
- `Origin` (RFC 6454 §7, Fetch): when sent, it must be this server's origin: the configured
  issuer's, or the request's own `scheme://host` (the same server reached by another name,
  e.g. 127.0.0.1 or a LAN address). `Origin: null` (a sandboxed frame, a data: URL, a page
  with `Referrer-Policy: no-referrer`) is refused — except beside `Sec-Fetch-Site:
  same-origin`: our own pages send `Referrer-Policy: no-referrer`, under which a browser
  posts their forms with `Origin: null` (Fetch, "append a request `Origin` header"), and
  Fetch Metadata says where the form really came from.

A request that sends neither header (a program, an old browser) is left to the CSRF token.
"""

from __future__ import annotations

from starlette.requests import Request

from c42.auth.oauth.origins import header_origin
from c42.cors import own_origins

_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def is_cross_site(request: Request) -> bool:
    fetch_sites = [value.strip().lower() for value in request.headers.getlist("sec-fetch-site")]
    if fetch_sites and (len(fetch_sites) > 1 or fetch_sites[0] not in _ALLOWED_FETCH_SITES):
        return True
    origins = [value.strip() for value in request.headers.getlist("origin")]
    if not origins:
        return False
    if len(origins) > 1:
        return True
    if origins[0] == "null":
        return fetch_sites != ["same-origin"]
    sent = header_origin(origins[0])
    issuer: str = request.app.state.settings.issuer
    return sent is None or sent not in own_origins(request.scope, issuer)
