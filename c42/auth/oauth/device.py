"""The device authorization grant (RFC 8628, SPEC §11): Authlib's endpoint and grant on our
storage and policy.

- Only apps flagged `allow_device` (`c42 app create|update --device`) may use it.
- User codes are 8 letters of an alphabet without look-alikes (RFC 8628 §6.1), shown
  `ABCD-EFGH`, typed case-insensitively with or without the hyphen; stored only as a keyed
  digest (the server key), device codes as a SHA-256 digest.
- Polling (RFC 8628 §3.5): `authorization_pending`, `slow_down` (a poll sooner than the
  interval; the interval grows by 5 s, stored), `access_denied`, `expired_token`.
- A device code is redeemed once: one conditional UPDATE claims it, so of any number of
  concurrent polls exactly one gets the tokens (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
)
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from c42.auth import scopes, secrets
from c42.auth.oauth.client_auth import ANY_METHOD
from c42.auth.oauth.models import Client
from c42.models import OAuthDeviceCode, User, utcnow
from c42.models.users import OPEN

if TYPE_CHECKING:
    from c42.auth.oauth.server import OAuthServer

VERIFICATION_PATH = "/device/"
LIFETIME = 600  # seconds a device code lives (RFC 8628 §3.2 expires_in)
INTERVAL = 5  # seconds between polls (RFC 8628 §3.2 interval)
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "increased by 5 seconds for this and all subsequent"
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: consonants only, no look-alikes
USER_CODE_LETTERS = 8
_d = OAuthDeviceCode.__table__


def new_user_code() -> str:
    letters = "".join(random.choice(ALPHABET) for _ in range(USER_CODE_LETTERS))
    return f"{letters[:4]}-{letters[4:]}"


def normal_user_code(typed: str) -> str | None:
    """The 8 letters of a typed user code (any case, hyphens and spaces ignored), or None when
    it cannot be one of ours."""
    letters = "".join(ch for ch in typed.upper() if ch not in "- ")
    if len(letters) != USER_CODE_LETTERS or any(ch not in ALPHABET for ch in letters):
        return None
    return letters


def shown(user_code: str) -> str:
    letters = normal_user_code(user_code) or ""
    return f"{letters[:4]}-{letters[4:]}"


def user_code_digest(user_code: str, server_key: str) -> str | None:
    letters = normal_user_code(user_code)
    # Keyed: 20^8 codes could be enumerated against a plain digest.
    return secrets.keyed_digest(letters, server_key) if letters else None


class Credential:
    """A device code row as Authlib's grant reads it."""

    def __init__(self, row: OAuthDeviceCode, client_id: str) -> None:
        self.row = row
        self._client_id = client_id

    def get_client_id(self) -> str:
        return self._client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_user_code(self) -> str:
        return self.row.id  # the grant looks the decision up by it (query_user_grant)

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()


class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]  # Authlib is untyped
    """RFC 8628 §3.1-§3.2: `POST /oauth2/device_authorization/`."""

    CLIENT_AUTH_METHODS = list(ANY_METHOD)
    EXPIRES_IN = LIFETIME
    INTERVAL = INTERVAL
    server: OAuthServer

    def authenticate_client(self, request: Any) -> Client:
        client: Client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This app may not use the device authorization grant.")
        return client

    def create_endpoint_response(self, request: Any) -> Any:
        client = self.authenticate_client(request)
        self.server.validate_requested_scope(request.payload.scope)
        scope = client.get_allowed_scope(request.payload.scope)
        if scope is None:  # RFC 6749 §3.3: never silently narrowed
            raise InvalidScopeError("This app may not ask for this scope.")
        device_code, user_code = self.generate_device_code(), new_user_code()
        uri = self.get_verification_uri()
        data = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?user_code={user_code}",
            "expires_in": self.EXPIRES_IN,
            "interval": self.INTERVAL,
        }
        self._save(client, scope, device_code, user_code)
        return 200, data, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]

    def generate_device_code(self) -> str:
        return secrets.new_opaque_token()

    def get_verification_uri(self) -> str:
        return self.server.config.issuer + VERIFICATION_PATH

    def _save(self, client: Client, scope: str, device_code: str, user_code: str) -> None:
        now = utcnow()
        session = self.server.session
        session.add(
            OAuthDeviceCode(
                device_digest=secrets.digest(device_code),
                user_code_digest=user_code_digest(user_code, self.server.config.server_key),
                app_id=client.id,
                scope=scope,
                created=now,
                expires_at=now + timedelta(seconds=self.EXPIRES_IN),
                interval=self.INTERVAL,
            )
        )
        session.flush()


class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]  # Authlib is untyped
    """RFC 8628 §3.4-§3.5: the device polls the token endpoint."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(ANY_METHOD)
    server: OAuthServer

    def query_device_credential(self, device_code: str) -> Credential | None:
        row = self.server.session.scalar(
            select(OAuthDeviceCode).where(
                OAuthDeviceCode.device_digest == secrets.digest(device_code)
            )
        )
        self.request.device_row = row  # for query_user_grant and should_slow_down
        if row is None:
            return None
        client_id = self.server.client_id_of(row.app_id)
        return Credential(row, client_id) if client_id else None

    def validate_device_credential(self, credential: Credential) -> Any:
        row = credential.row
        if row.redeemed_at is not None:
            raise InvalidGrantError("This device code was already used.")
        return super().validate_device_credential(credential)

    def query_user_grant(self, user_code: str) -> tuple[Any, bool] | None:
        row: OAuthDeviceCode = self.request.device_row
        if row.approved is None or row.user_id is None:
            return None
        if row.approved and not claim(self.server.session, row.id):
            # RFC 8628 §3.5: redeemed once; a concurrent poll won the claim.
            raise InvalidGrantError("This device code was already used.")
        if row.approved and not _usable(self.server.session, row.user_id):
            # As the code grant's authenticate_user: an account closed or deactivated since it
            # allowed the device gets no tokens (nor an id_token naming it).
            raise InvalidGrantError("The account that allowed this device can no longer be used.")
        return _Owner(row.user_id), bool(row.approved)

    def should_slow_down(self, credential: Credential) -> bool:
        return too_soon(self.server.session, credential.row)


@dataclass(frozen=True)
class _Owner:
    id: str


def _usable(session: Session, user_id: str) -> bool:
    user = session.get(User, user_id)
    return user is not None and user.standing in OPEN  # sandbox users too, as for codes


def claim(session: Session, row_id: str, now: datetime | None = None) -> bool:
    """Mark an approved device code redeemed; True for the one winner."""
    now = now or utcnow()
    result = session.execute(
        update(OAuthDeviceCode)
        .where(
            _d.c.id == row_id,
            _d.c.redeemed_at.is_(None),
            _d.c.approved.is_(True),
            _d.c.expires_at > now,
        )
        .values(redeemed_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def too_soon(session: Session, row: OAuthDeviceCode) -> bool:
    """RFC 8628 §3.5: a poll within the interval of the previous one is `slow_down`, and the
    interval grows by 5 s. The poll time is recorded either way."""
    now = utcnow()
    last = row.last_polled_at
    early = last is not None and now < last + timedelta(seconds=row.interval)
    values: dict[str, Any] = {"last_polled_at": now}
    if early:
        values["interval"] = _d.c.interval + SLOW_DOWN_STEP
    session.execute(update(OAuthDeviceCode).where(_d.c.id == row.id).values(**values))
    return early


# -- the /device/ page's side --------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    id: str
    app_id: str
    scope: str


def pending(session: Session, user_code: str, server_key: str) -> Pending | None:
    """The undecided, unexpired device authorization of a typed user code."""
    digest = user_code_digest(user_code, server_key)
    if digest is None:
        return None
    row = session.scalar(
        select(OAuthDeviceCode).where(
            OAuthDeviceCode.user_code_digest == digest,
            OAuthDeviceCode.approved.is_(None),
            OAuthDeviceCode.expires_at > utcnow(),
        )
    )
    return Pending(row.id, row.app_id, row.scope) if row else None


def decide(
    session: Session, row_id: str, user_id: str, approved: bool, auth_time: datetime | None
) -> bool:
    """Record the user's decision once (a second answer, or one after expiry, changes
    nothing); True when it was recorded. `auth_time`: when the deciding browser session
    logged in (the id_token's `auth_time`, as an authorization code carries it)."""
    result = session.execute(
        update(OAuthDeviceCode)
        .where(_d.c.id == row_id, _d.c.approved.is_(None), _d.c.expires_at > utcnow())
        .values(user_id=user_id, approved=approved, auth_time=auth_time)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def withdraw(session: Session, app_id: str, user_id: str) -> None:
    """A disconnected app (consents.disconnect) also loses the device codes this user allowed
    and the device has not redeemed yet: their next poll answers `access_denied`."""
    session.execute(
        update(OAuthDeviceCode)
        .where(
            _d.c.app_id == app_id,
            _d.c.user_id == user_id,
            _d.c.approved.is_(True),
            _d.c.redeemed_at.is_(None),
        )
        .values(approved=False)
    )


def scope_words(scope: str, service_name: str) -> tuple[tuple[str, str], ...]:
    return scopes.describe(scopes.parse(scope), service_name)
