"""Silent OAuth's two hooks into the authorization endpoint (`c42.auth.oauth.flow`).

- `authorize`: a request with `email_address` (SPEC §5.4), after every check of the normal
  flow has passed (client, exact redirect URI, response_type, scope, PKCE, `service_id`):
  no login and no consent page; the answer is always a redirect to the validated redirect
  URI, with a code for the sandbox user or an error, `state` and RFC 9207's `iss`.
- `after_consent`: the logged-in user has just allowed (or earlier allowed) an app: a
  sandbox of the same address and service, if any, becomes part of their account.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error

from c42 import audit
from c42.auth.oauth.models import Client
from c42.auth.oauth.requests import OAuthRequest, OAuthResponse
from c42.auth.oauth.server import OAuthServer
from c42.auth.silent import merge, provision
from c42.logs import get_logger
from c42.models import User

EMAIL_PARAM = "email_address"
log = get_logger("c42.silent")


def is_silent(request: OAuthRequest) -> bool:
    return request.payload.data.get(EMAIL_PARAM) is not None


def authorize(server: OAuthServer, request: OAuthRequest, grant: Any) -> OAuthResponse:
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


def after_consent(server: OAuthServer, client: Client, user: User) -> None:
    """SPEC §5.4 merge, in a savepoint of the authorization's transaction: a failure leaves
    both accounts exactly as they were (the merge is tried again at the next consent) and
    never costs the user their sign-in."""
    session = server.session
    sandbox = merge.sandbox_to_merge(session, client.service_id, user)
    if sandbox is None:
        return
    before = dict(session.info)
    try:
        with session.begin_nested():
            result = merge.merge(session, sandbox_id=sandbox, into=user, app_id=client.id)
    except Exception:
        session.info.clear()
        session.info.update(before)  # a sync token taken inside the savepoint was rolled back
        log.exception("sandbox merge failed; both accounts left unchanged")
        audit.record(
            session,
            audit.Types.SANDBOX_MERGE_FAILED,
            user_id=user.id,
            client_id=client.client_id,
            service_id=client.service_id,
            sandbox_user_id=sandbox,
        )
        return
    server.revoked_access_digests.extend(result.revoked_access_digests)
