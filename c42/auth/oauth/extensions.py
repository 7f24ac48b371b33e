"""Extensions of the authorization endpoint (`c42.auth.oauth.flow`), so that the protocol core
imports none of them: the app lists them in `OAuthConfig.extensions` (see `c42.app`), in
order, and every server built with that configuration consults them.

An extension may take a request over once Authlib has validated it (client, exact redirect
URI, response_type, scope, PKCE) — silent OAuth (SPEC §5.4) answers without login or consent —
and hears of every consent given (or remembered) before the code is issued — the sandbox
merge (SPEC §5.4) runs there, in the authorization's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: the server imports its configuration, which lists these
    from c42.auth.oauth.models import Client
    from c42.auth.oauth.requests import OAuthRequest, OAuthResponse
    from c42.auth.oauth.server import OAuthServer
    from c42.models import User


class AuthorizationExtension:
    """The two hooks, both doing nothing by default."""

    def takes_over(self, request: OAuthRequest) -> bool:
        """Whether `authorize` answers this validated request instead of the normal flow."""
        return False

    def authorize(self, server: OAuthServer, request: OAuthRequest, grant: Any) -> OAuthResponse:
        raise NotImplementedError  # called only when takes_over said so

    def after_consent(self, server: OAuthServer, client: Client, user: User) -> None:
        """`user` has just allowed `client` (or had allowed it before)."""
