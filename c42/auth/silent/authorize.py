"""Silent OAuth's answer at the authorization endpoint (SPEC §5.4), an extension the app
registers (`c42.auth.oauth.extensions`).

A request with `email_address`, after every check of the normal flow has passed (client,
exact redirect URI, response_type, scope, PKCE, `service_id`): no login and no consent page;
the answer is always a redirect to the validated redirect URI, with a code for the sandbox
user or an error, `state` and RFC 9207's `iss`. (The other half of SPEC §5.4, the merge of a
sandbox when its address's owner consents, changes planning data: `c42.sandbox_merge`.)
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error

from c42.auth.oauth.extensions import AuthorizationExtension
from c42.auth.oauth.models import Client
from c42.auth.oauth.requests import OAuthRequest, OAuthResponse
from c42.auth.oauth.server import OAuthServer
from c42.auth.silent import provision

EMAIL_PARAM = "email_address"


class SilentOAuth(AuthorizationExtension):
    def takes_over(self, request: OAuthRequest) -> bool:
        return request.payload.data.get(EMAIL_PARAM) is not None

    def authorize(self, server: OAuthServer, request: OAuthRequest, grant: Any) -> OAuthResponse:
        client: Client = request.client
        try:
            provision.check_app(client.app)
            # RFC 6749 §3.3: the app's own scope rules first (None: beyond what it may ask).
            scope = client.get_allowed_scope(request.scope)
            provision.check_scope(scope or "")
            user = provision.sandbox_user(
                server.session, client.service_id, request.payload.data.get(EMAIL_PARAM)
            )
        except provision.SilentRefusal as refusal:
            error = OAuth2Error(refusal.description, redirect_uri=grant.redirect_uri)
            error.error = refusal.error
            return server.authorization_error(request, error)
        response: OAuthResponse = server.create_authorization_response(
            request, grant_user=user, grant=grant
        )
        return response
