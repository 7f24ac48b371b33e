"""id_tokens (OIDC Core §2, §3.1.3.6, §12.2) through Authlib's OpenIDCode extension.

Registered on the three grants of the server: the code exchange of a request whose scope
holds `openid` adds an `id_token` to the token response, and so does a refresh of such a grant
(same `sub`, same `auth_time`, no `nonce`: OIDC Core §12.2). The device grant (RFC 8628) does
too: OIDC Core does not define it, but OPs issue one there (the "Device Flow" practice); no
`nonce`, since a device authorization request has none. Signed with the process's current
signing key (c42.auth.oidc.keys), its `kid` in the header.

Claims: iss, sub, aud (the client_id), azp, exp, iat, auth_time (when the user last gave
their password: the browser session's login time, carried by the code or the device code,
then by the token family; left out when unknown, never the time of the token request),
nonce (when the request had one), at_hash, and the user claims of the granted identity scopes
(c42.auth.oidc.claims).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.core.grants.util import is_openid_scope
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from c42.auth.oauth import device, tokens
from c42.auth.oidc import claims, keys, login_context
from c42.models import User

if TYPE_CHECKING:
    from c42.auth.oauth.models import AuthorizationCode, Client
    from c42.auth.oauth.server import OAuthServer

ID_TOKEN_LIFETIME = 3600  # seconds (OIDC Core §2 `exp`)
MAX_NONCE_LENGTH = 500  # the column's size


def epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())  # stored naive UTC


class IDTokens(OpenIDCode):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's OpenIDCode bound to our server: keys from the key ring, claims from our
    users, auth_time from the login. `prompt` is decided by the authorization flow
    (c42.auth.oidc.prompts), not by Authlib's hook (which cannot see our login session)."""

    def __init__(self, server: OAuthServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server
        self._chosen: tuple[str, str, keys.Key] | None = None

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)
        if is_openid_scope(grant.request.payload.scope):
            grant.register_hook(
                "after_validate_authorization_request_payload",
                self.validate_openid_authorization_request,
            )

    def _ring(self) -> keys.KeyRing:
        return keys.ring(self.server.session, self.server.config.server_key)

    def _signing(self) -> tuple[str, str, keys.Key]:
        """The key that signs, chosen once per request (header and signature agree)."""
        if self._chosen is None:
            self._chosen = self._ring().signing()
        return self._chosen

    # -- Authlib's hooks ----------------------------------------------------------------------

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        # OIDC Core §3.1.3.7 (11): the client checks that the nonce is the one it sent; the
        # server only carries it from the request to the id_token.
        return False

    def validate_openid_authorization_request(self, grant: Any, redirect_uri: str) -> None:
        nonce = grant.request.payload.data.get("nonce")
        if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
            raise InvalidRequestError(
                f"'nonce' is longer than {MAX_NONCE_LENGTH} characters.", redirect_uri=redirect_uri
            )
        super().validate_openid_authorization_request(grant, redirect_uri)

    def resolve_client_private_key(self, client: Client) -> Any:
        return self._signing()[2]

    def get_client_algorithm(self, client: Client) -> str:
        return self._signing()[1]

    def get_encode_header(self, client: Client) -> dict[str, str]:
        kid, alg, _ = self._signing()
        return {"alg": alg, "kid": kid}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.server.config.issuer,
            "aud": client.get_client_id(),
            "azp": client.get_client_id(),  # OIDC Core §2: the party the token was issued to
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        found = self._auth_time(request)
        # OIDC Core §2: auth_time is the login's; a request's time would pass a max_age check.
        login = {"auth_time": epoch(found)} if found is not None else {}
        return {**self.get_client_claims(request.client), **login}

    def get_authorization_code_claims(
        self, authorization_code: AuthorizationCode
    ) -> dict[str, Any]:
        row = authorization_code.row
        return {"nonce": row.nonce} if row.nonce else {}

    def generate_user_info(self, user: Any, scope: str) -> UserInfo:
        found = self.server.session.get(User, user.id)
        if found is None:  # the grant checked the account just now, in this transaction
            raise LookupError("the token's user is gone")
        return claims.user_claims(found, scope)

    def process_token(self, grant: Any, response: Any) -> Any:
        token = super().process_token(grant, response)
        request = grant.request
        if "id_token" in token and request.refresh_token is None:
            # A new family (code or device grant): its login time, for its refreshes' id_tokens.
            found = self._auth_time(request)
            row = tokens.by_access(self.server.uow, token["access_token"])
            if row is not None and found is not None:
                login_context.remember(self.server.session, row.family_id, row.user_id, found)
        return token

    def _auth_time(self, request: OAuth2Request) -> datetime | None:
        code = request.authorization_code
        if code is not None:
            found: datetime | None = code.row.auth_time
            return found
        if isinstance(request.credential, device.Credential):  # RFC 8628: allowed on /device/
            allowed: datetime | None = request.credential.row.auth_time
            return allowed
        refresh = request.refresh_token
        if refresh is not None:
            return login_context.auth_time_of(self.server.session, refresh.row.family_id)
        return None


def verify(ring: keys.KeyRing, issuer: str, value: str) -> dict[str, Any] | None:
    """The claims of an id_token this server signed with a key still published, whether or
    not it expired (an `id_token_hint`: OIDC Core §3.1.2.1, RP-Initiated Logout §2); None for
    anything else."""
    if not isinstance(value, str) or len(value) > 8000 or value.count(".") != 2:
        return None
    if not ring.public_keys:
        return None
    try:
        # The key is picked by the header's `kid` among the published keys only.
        key_set = KeySet.import_key_set({"keys": list(ring.public_keys)})
        decoded = jwt.decode(value, key_set, algorithms=list(keys.ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    found: dict[str, Any] = dict(decoded.claims)
    if found.get("iss") != issuer or not isinstance(found.get("sub"), str):
        return None
    return found
