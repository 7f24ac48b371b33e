"""RP-Initiated Logout 1.0 (`/oauth2/logout/`), framework-free: which app asks, and where
the browser may go once the session has ended.

A `post_logout_redirect_uri` is followed only when it is registered for the app, matched
exactly (§3: the OP must not redirect to an unregistered one), and the app is known from a
valid `id_token_hint` (its `aud`) or from `client_id` (both: they must agree). Anything else
is an error page. The page then asks the user to confirm (a CSRF-protected form); the POST
checks the same parameters again, so nothing a form sends can widen them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42.auth.oidc import id_tokens, keys
from c42.models import OAuthApp

# The parameters of a logout request (§2) the confirmation form carries.
PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
MAX_LENGTH = 8000


@dataclass(frozen=True)
class Logout:
    app_name: str | None  # the app that asks, when known
    redirect: str | None  # where to send the browser afterwards (with `state`)
    hint_sub: str | None  # the user of the id_token_hint
    params: tuple[tuple[str, str], ...]  # for the confirmation form


class InvalidLogout(Exception):
    """A logout request that must not be followed (shown on an error page)."""


def check(session: Session, server_key: str, issuer: str, data: dict[str, Any]) -> Logout:
    values = {name: data.get(name) for name in PARAMS}
    for name, value in values.items():
        if value is not None and (not isinstance(value, str) or len(value) > MAX_LENGTH):
            raise InvalidLogout(f"'{name}' is not valid.")
    hint_aud = hint_sub = None
    if values["id_token_hint"]:
        claims = id_tokens.verify(keys.ring(session, server_key), issuer, values["id_token_hint"])
        if claims is None:
            raise InvalidLogout("The id_token_hint was not issued here.")
        aud = claims.get("aud")
        hint_aud = aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) else None)
        hint_sub = claims["sub"]
    client_id = values["client_id"] or hint_aud
    if values["client_id"] and hint_aud and values["client_id"] != hint_aud:
        raise InvalidLogout("client_id does not match the id_token_hint.")
    app = None
    if client_id:
        app = session.scalar(
            select(OAuthApp).where(OAuthApp.client_id == client_id, OAuthApp.disabled_at.is_(None))
        )
        if app is None:
            raise InvalidLogout("The application asking for the logout is not registered here.")
    target = values["post_logout_redirect_uri"]
    redirect = None
    if target:
        if app is None:
            raise InvalidLogout("A post_logout_redirect_uri needs an id_token_hint or a client_id.")
        if target not in (app.post_logout_redirect_uris or []):  # exact match (§3)
            raise InvalidLogout("This post_logout_redirect_uri is not registered for the app.")
        state = values["state"]
        redirect = target
        if state:
            redirect += ("&" if "?" in target else "?") + urlencode({"state": state})
    params = tuple((name, value) for name, value in values.items() if value)
    return Logout(app.name if app else None, redirect, hint_sub, params)
