"""The consent page's copy of the authorization request it asks about, sealed.

When the consent page is shown, the validated request's parameters are signed together with
the user they were shown to and the session's CSRF token (itsdangerous, a key of its own); the
form posts back only that sealed value, its CSRF token and the decision. The answer is applied
to exactly that request, re-validated: a field edited, added or left out by hand (a wider
`scope`, another `redirect_uri`, an `email_address`) changes nothing, and a sealed value
from another user or session, or older than `MAX_AGE`, is refused (RFC 6749 §10.12, §4.1.1:
the user approves the client's request, nothing else).
"""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadData, URLSafeTimedSerializer

from c42.auth import secrets
from c42.settings import Settings
from c42.web.session import derive_key

FIELD = "consent_request"
MAX_AGE = 600  # seconds a consent page may stay open before its answer is refused
SALT = "c42.consent-request"


class InvalidConsentRequest(Exception):
    """Tampered with, expired, or sealed for another user or session."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(derive_key(settings, "consent"), salt=SALT)


def _session_tag(csrf_token: str) -> str:
    return secrets.digest(csrf_token)


def seal(
    settings: Settings, params: Sequence[tuple[str, str]], user_id: str, csrf_token: str
) -> str:
    payload = {"params": [list(pair) for pair in params], "user": user_id}
    payload["session"] = _session_tag(csrf_token)
    return _serializer(settings).dumps(payload)


def unseal(
    settings: Settings, sealed: str, user_id: str | None, csrf_token: str
) -> list[tuple[str, str]]:
    """The parameters sealed in `sealed` for this user and session, or InvalidConsentRequest."""
    try:
        payload = _serializer(settings).loads(sealed, max_age=MAX_AGE)
    except BadData as exc:
        raise InvalidConsentRequest from exc
    if not isinstance(payload, dict) or user_id is None:
        raise InvalidConsentRequest
    user, session, params = payload.get("user"), payload.get("session"), payload.get("params")
    if not isinstance(user, str) or not isinstance(session, str) or not isinstance(params, list):
        raise InvalidConsentRequest
    same_user = secrets.same(user_id, user)
    same_session = secrets.same(_session_tag(csrf_token), session)
    if not (same_user and same_session):
        raise InvalidConsentRequest
    pairs: list[tuple[str, str]] = []
    for pair in params:  # signed by us; checked anyway
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        ):
            raise InvalidConsentRequest
        pairs.append((pair[0], pair[1]))
    return pairs
