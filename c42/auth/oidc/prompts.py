"""What an authorization request asks of the login and consent (OIDC Core §3.1.2.1):
`prompt`, `max_age`, `login_hint`, `id_token_hint`.

- `prompt=none`: never a page. Not logged in, a login too old, or the user of the
  `id_token_hint` not the one logged in -> `login_required`; consent needed ->
  `consent_required` (both redirected to the client).
- `prompt=login` (and `select_account`, which C42 treats as login: one account per browser)
  and `max_age` older than the login ask for the password again. The login page sends the
  browser back to the same request with a marker (`c42_login_after`: a time, signed with
  the server key): the request is satisfied by a login made after that time, so the way back
  does not ask once more.
- `prompt=consent`: the consent page even when consent is remembered.
- `login_hint`: fills in the e-mail on the login page.
- `display`, `ui_locales`, `claims_locales`, `acr_values` and unknown parameters are accepted
  and ignored; a request object (`request`) is refused with `request_not_supported`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import RequestNotSupportedError
from sqlalchemy.orm import Session

from c42.auth import secrets
from c42.auth.oidc import id_tokens, keys

MARKER = "c42_login_after"
MARKER_LIFETIME = 600  # seconds: a marker older than this satisfies nothing
MAX_HINT_LENGTH = 320


@dataclass(frozen=True)
class Asked:
    none: bool = False  # prompt=none: answer by redirect only
    login: bool = False  # prompt=login / select_account: the password again
    consent: bool = False  # prompt=consent: the consent page, even if remembered
    max_age: int | None = None  # seconds since the login, at most
    login_hint: str | None = None
    hint_sub: str | None = None  # the `sub` of a valid id_token_hint
    login_after: int | None = None  # from a valid marker: a login from this time (ms) counts

    @property
    def wants_new_login(self) -> bool:
        """Whether an existing login might not do (the way back from the login page then
        needs a marker)."""
        return self.login or self.max_age is not None or self.hint_sub is not None


def read(data: Any, redirect_uri: str, session: Session, issuer: str, server_key: str) -> Asked:
    """The request's OIDC parameters; InvalidRequestError (redirected) for bad values."""
    if data.get("request") is not None:
        # OIDC Core §6.1: request objects are not offered (discovery says so).
        raise RequestNotSupportedError(
            "Request objects ('request') are not supported: send the parameters themselves.",
            redirect_uri=redirect_uri,
        )
    prompt = str(data.get("prompt") or "").split()
    if "none" in prompt and len(prompt) > 1:
        # OIDC Core §3.1.2.1: `none` with any other value is an error.
        raise InvalidRequestError("'prompt=none' cannot be combined.", redirect_uri=redirect_uri)
    max_age = _max_age(data.get("max_age"), redirect_uri)
    hint_sub = None
    hint = data.get("id_token_hint")
    if hint:
        claims = id_tokens.verify(keys.ring(session, server_key), issuer, hint)
        if claims is None:
            raise InvalidRequestError(
                "'id_token_hint' is not an id_token issued here.", redirect_uri=redirect_uri
            )
        hint_sub = claims["sub"]
    login_hint = data.get("login_hint")
    return Asked(
        none="none" in prompt,
        login="login" in prompt or "select_account" in prompt,
        consent="consent" in prompt,
        max_age=max_age,
        login_hint=login_hint[:MAX_HINT_LENGTH] if login_hint else None,
        hint_sub=hint_sub,
        login_after=_unmark(server_key, data.get(MARKER)),
    )


def _max_age(value: Any, redirect_uri: str) -> int | None:
    if value is None or value == "":
        return None
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12):
        raise InvalidRequestError(
            "'max_age' must be a number of seconds.", redirect_uri=redirect_uri
        )
    return int(value)


def needs_login(
    asked: Asked, user_id: str | None, auth_time: datetime | None, now: float | None = None
) -> bool:
    """Whether the user must log in (again) before this request is answered."""
    if user_id is None or auth_time is None:
        return True
    logged_in = auth_time.replace(tzinfo=UTC).timestamp()
    if asked.login_after is not None and logged_in * 1000 >= asked.login_after:
        return False  # the login this request asked for has happened
    if asked.hint_sub is not None and asked.hint_sub != user_id:
        return True  # OIDC Core §3.1.2.1: another user than the id_token_hint's
    now = time.time() if now is None else now
    if asked.login:
        return True
    return asked.max_age is not None and now - logged_in > asked.max_age


def mark(server_key: str, now: float | None = None) -> str:
    """A marker for the way back from the login page: "a login from now on counts" (the
    time in milliseconds: a login earlier in the same second does not)."""
    moment = int((time.time() if now is None else now) * 1000)
    return f"{moment}.{_signature(server_key, moment)}"


def _unmark(server_key: str, value: Any, now: float | None = None) -> int | None:
    if not isinstance(value, str) or len(value) > 100:
        return None
    moment, _, signature = value.partition(".")
    if not (moment.isascii() and moment.isdigit()):
        return None
    if not secrets.same(_signature(server_key, int(moment)), signature):  # constant time
        return None
    now = time.time() if now is None else now
    if not 0 <= now - int(moment) / 1000 <= MARKER_LIFETIME:
        return None
    return int(moment)


def _signature(server_key: str, moment: int) -> str:
    key = hmac.digest(server_key.encode(), b"c42 oidc login marker", "sha256")
    return hmac.new(key, str(moment).encode(), hashlib.sha256).hexdigest()[:32]
