"""How a client says who it is at the token, revocation and introspection endpoints
(RFC 6749 §2.3), read strictly before Authlib authenticates it.

- `basic_credentials`: the one decoder of HTTP Basic client credentials (RFC 7617, with
  RFC 6749 §2.3.1's form-urlencoding inside); Authlib's `client_secret_basic` uses it too
  (`authenticate_client_secret_basic`), so the edge and the check never read a header
  differently. Unreadable credentials are `invalid_client` with 401 and
  `WWW-Authenticate: Basic` (RFC 6749 §5.2), never a server error.
- `claimed_client_id`: the one client a request names; two identities or two authentication
  methods in one request are `invalid_request` (RFC 6749 §2.3).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError

if TYPE_CHECKING:
    from c42.auth.oauth.models import Client

_BASIC = "basic"  # RFC 7617 §2: the scheme name is case-insensitive

# The client authentication methods (names of RFC 7591 §2 / RFC 8414 §2). Authlib's registry
# checks them (`client_secret_basic` through `authenticate_client_secret_basic` below); grants
# and endpoints name the ones they accept from here, and the metadata publishes those.
SECRET_METHODS = ("client_secret_basic", "client_secret_post")  # RFC 6749 §2.3.1
PUBLIC_METHOD = "none"  # RFC 6749 §2.1: a public client is identified by its client_id only
ANY_METHOD = (*SECRET_METHODS, PUBLIC_METHOD)


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    client_id: str
    client_secret: str  # may be empty: then the request authenticates by another method


def _unreadable() -> InvalidClientError:
    # RFC 6749 §5.2: the client tried HTTP authentication, so 401 with WWW-Authenticate: Basic
    # (Authlib adds the header to a 401 invalid_client).
    return InvalidClientError(
        status_code=401, description="The HTTP Basic client credentials could not be read."
    )


def basic_credentials(authorization: Sequence[str]) -> BasicCredentials | None:
    """The client credentials of the request's `Authorization` header values, or None when it
    sends no Basic credentials (another scheme is left for other checks to ignore).
    Raises `invalid_client` (401) for credentials that cannot be read and `invalid_request`
    for more than one Authorization header."""
    if len(authorization) > 1:
        raise InvalidRequestError("Send one Authorization header.")  # RFC 6749 §2.3
    if not authorization:
        return None
    scheme, _, encoded = authorization[0].strip().partition(" ")
    if scheme.lower() != _BASIC:
        return None
    try:
        # RFC 7617 §2: base64 (RFC 4648 §4, padded, nothing outside its alphabet) of UTF-8
        # "user-id:password".
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error; non-ASCII: ValueError
        raise _unreadable() from exc
    encoded_id, colon, encoded_secret = decoded.partition(":")
    if not colon:
        raise _unreadable()
    try:
        # RFC 6749 §2.3.1: client_id and secret are each form-urlencoded (Appendix B: "+" is a
        # space) before the Basic encoding.
        client_id = unquote_plus(encoded_id, errors="strict")
        client_secret = unquote_plus(encoded_secret, errors="strict")
    except UnicodeDecodeError as exc:
        raise _unreadable() from exc
    if not client_id:
        raise _unreadable()
    return BasicCredentials(client_id, client_secret)


def claimed_client_id(authorization: Sequence[str], form: Mapping[str, str]) -> str | None:
    """The client_id the request names (HTTP Basic user or `client_id` field), checked:
    RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    request" — so HTTP Basic with a `client_secret` field, or with the `client_id` field of
    another client, is `invalid_request`. (The same client_id in both is one identity.)"""
    basic = basic_credentials(authorization)
    sent_id = form.get("client_id")
    if basic is None:
        return sent_id
    if form.get("client_secret") is not None:
        raise InvalidRequestError("Use one client authentication method, not two.")
    if sent_id is not None and sent_id != basic.client_id:
        raise InvalidRequestError("'client_id' names another client than the credentials.")
    return basic.client_id


def authenticate_client_secret_basic(
    query_client: Callable[[str], Client | None], request: Any
) -> Client | None:
    """Authlib's `client_secret_basic` method on our decoder (RFC 6749 §2.3.1)."""
    basic = basic_credentials(request.headers.getlist("authorization"))
    if basic is None or not basic.client_secret:
        return None
    client = query_client(basic.client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client is not registered.")
    return client if client.check_client_secret(basic.client_secret) else None
