"""Where a page may send the browser next, and the signed links we put in e-mails."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from c42.settings import Settings
from c42.web.session import derive_key

MAX_NEXT_LENGTH = 4000
DEFAULT_NEXT = "/accounts/"


def safe_next(value: object) -> str | None:
    """`next` only when it is a path on this site, else None (open-redirect protection).

    Accepted: starts with exactly one "/" followed by something other than "/" or "\\".
    Refused: "//host", "/\\host" (browsers read "\\" as "/"), any backslash, any control
    character or whitespace (browsers drop tab/CR/LF, turning "/\\t/host" into "//host"),
    and anything that parses with a scheme or a host.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return None
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if "\\" in value or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def with_next(path: str, next_url: str | None) -> str:
    """`path?next=...` when there is a (safe) next, else `path`."""
    return f"{path}?next={quote(next_url, safe='')}" if next_url else path


def absolute(settings: Settings, path: str) -> str:
    return settings.issuer.rstrip("/") + path


class SignedLinks:
    """Tamper-proof, expiring tokens for e-mailed links. Each purpose has its own salt, so a
    verification token never works as a reset token and vice versa."""

    def __init__(self, settings: Settings) -> None:
        self._key = derive_key(settings, "links")

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=f"c42.{purpose}")

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def loads(self, purpose: str, token: str, max_age: int) -> dict[str, Any] | None:
        """The payload, or None for a token that is forged, altered, expired or malformed."""
        if not isinstance(token, str) or len(token) > 1000:
            return None
        try:
            payload = self._serializer(purpose).loads(token, max_age=max_age)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        return payload if isinstance(payload, dict) else None
