"""What an OAuth request may carry (SPEC §6), and error descriptions that never repeat it.

- Every parameter name and value is text the service accepts (`c42.text`: no control
  characters, no lone surrogates). At the authorization endpoint `AcceptedText` runs as a
  grant extension once the client and its redirect URI are validated, so the refusal is
  redirected to the client (RFC 6749 §4.1.2.1); a bad `client_id` or `redirect_uri` is
  simply not registered (the error page). At the token, revocation and introspection
  endpoints `check` refuses the form before anything reads it (RFC 6749 §5.2).
- RFC 6749 §5.2: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E, and Authlib
  raises while building an error from anything else. Our descriptions name the parameter or
  rule at fault and never quote a value; `describable` makes a name safe to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from authlib.oauth2.rfc6749 import InvalidRequestError

from c42.text import refused_name

# RFC 6749 §5.2's set minus "%" (the escape itself); everything else is percent-encoded.
_SHOWN_AS_IS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\%')
_MAX_SHOWN = 40


def describable(name: str) -> str:
    """`name` as an error description may show it: percent-encoded outside RFC 6749 §5.2's
    characters, shortened."""
    shown = quote(name[:_MAX_SHOWN], safe=_SHOWN_AS_IS)
    return shown + ("..." if len(name) > _MAX_SHOWN else "")


def check(pairs: Iterable[tuple[str, str]]) -> None:
    """Raise `invalid_request` when a parameter's name or value is not accepted text."""
    name = refused_name(pairs)
    if name is not None:
        raise InvalidRequestError(
            f"Parameter '{describable(name)}' holds a control character or invalid Unicode."
        )


class AcceptedText:
    """Authorization code grant extension: `check` on every authorization request parameter,
    after the client and redirect URI are validated and before anything else reads them
    (Authlib redirects an error raised there to the client, RFC 6749 §4.1.2.1)."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("before_validate_authorization_request_payload", self.check)

    def check(self, grant: Any, redirect_uri: str) -> None:
        datalist = grant.request.payload.datalist
        check((name, value) for name, values in datalist.items() for value in values)
