"""Web origins of client-side (JavaScript) apps: what may be registered, its one normal form,
and the set of registered origins that CORS answers for (SPEC §5.3).

An origin is `scheme://host[:port]` (RFC 6454 §6.1 serialisation): no path, query, fragment,
user information or wildcard. It is kept in the form a browser sends in `Origin`: lower-case
scheme and host, the host's IDNA (punycode) form, and no port when it is the scheme's default.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable

from c42.auth import evictions

_SCHEMES = {"https": 443, "http": 80}
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MAX_LENGTH = 300


class InvalidOrigin(ValueError):
    pass


def normal_origin(value: str) -> str:
    """An origin that may be registered, in its normal form, or InvalidOrigin saying why not."""
    scheme, host, port = _parts(value)
    if scheme == "http" and host not in _LOOPBACK_HOSTS:
        # RFC 9700 §2.6 / RFC 6749 §3.1.2.1: TLS everywhere but on the device itself.
        raise InvalidOrigin("plain http is allowed only for a loopback host")
    return _serialise(scheme, host, port)


def parse_origin(value: str) -> str:
    """Any http(s) origin in its normal form (RFC 6454 §6.1), or InvalidOrigin saying what
    is wrong. Used for every `Origin` header and for this server's own origins."""
    return _serialise(*_parts(value))


def _serialise(scheme: str, host: str, port: int | None) -> str:
    if port is not None and port != _SCHEMES[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _parts(value: str) -> tuple[str, str, int | None]:
    if not value or len(value) > _MAX_LENGTH or not value.isprintable():
        raise InvalidOrigin("empty, too long or containing control characters")
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SCHEMES:
        raise InvalidOrigin("use https://host[:port] (http only for a loopback host)")
    if rest.endswith("/"):
        rest = rest[:-1]  # a lone trailing slash is forgiven: the origin has no path
    if not rest or any(ch in rest for ch in "/?#@\\*") or any(ch.isspace() for ch in rest):
        raise InvalidOrigin("no path, query, fragment, user information or wildcard")
    host, port = _split_port(rest)
    return scheme, _normal_host(host), port


def header_origin(value: str | None) -> str | None:
    """An `Origin` request header in normal form; None when absent, `null` or malformed
    (a malformed origin is never a registered one)."""
    if not value or value == "null":
        return None
    try:
        return parse_origin(value)
    except InvalidOrigin:
        return None


def _split_port(rest: str) -> tuple[str, int | None]:
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise InvalidOrigin("unclosed IPv6 address")
        host, tail = rest[: end + 1], rest[end + 1 :]
    else:
        host, _, port_text = rest.partition(":")
        tail = ":" + port_text if ":" in rest else ""
    if not tail:
        return host, None
    digits = tail[1:]
    # ASCII digits only: str.isdigit() (and int()) also accept other scripts' digits.
    if not tail.startswith(":") or not digits.isascii() or not digits.isdigit():
        raise InvalidOrigin("the port must be ASCII digits")
    port = int(digits)
    if not 0 < port < 65536:
        raise InvalidOrigin("the port must be 1-65535")
    return host, port


def _normal_host(host: str) -> str:
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError as exc:
            raise InvalidOrigin("invalid IPv6 address") from exc
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()  # IDNA 2003, as WHATWG URL
    except (UnicodeError, ValueError) as exc:
        raise InvalidOrigin("invalid host name") from exc
    if ascii_host.endswith("."):
        raise InvalidOrigin("no trailing dot in the host name")
    if not ascii_host or not all(_LABEL.match(label) for label in ascii_host.split(".")):
        raise InvalidOrigin("invalid host name")
    return ascii_host


def normal_origins(values: Iterable[str]) -> list[str]:
    """Registered origins, normalised once and without repeats (InvalidOrigin names the bad one)."""
    seen: list[str] = []
    for value in values:
        try:
            origin = normal_origin(value)
        except InvalidOrigin as exc:
            raise InvalidOrigin(f"{value!r}: {exc}") from exc
        if origin not in seen:
            seen.append(origin)
    return seen


class RegisteredOrigins:
    """The origins registered by enabled public apps, re-read at most every `ttl` seconds, so
    that a CORS preflight costs no database query and a change reaches every process within
    the credential cache time (SPEC §6 / §7)."""

    def __init__(self, load: Callable[[], frozenset[str]], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._origins: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def fresh(self) -> frozenset[str] | None:
        """The cached set while it is fresh, else None (then call `reload`, blocking)."""
        if time.monotonic() - self._loaded_at < self._ttl:
            return self._origins
        return None

    def reload(self) -> frozenset[str]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl:
                self._origins = self._load()
                self._loaded_at = time.monotonic()
            return self._origins

    def forget(self) -> None:
        """Re-read on the next request (after a change made in this process)."""
        self._loaded_at = float("-inf")

    def on_eviction(self, scope: str, _value: str) -> None:
        """Apps changed, here or in another process (c42.auth.evictions)."""
        if scope == evictions.APPS:
            self.forget()
