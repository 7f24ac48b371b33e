"""Redirect URIs: what may be registered, and whether a requested one matches.

Matching is exact, character for character (RFC 6749 §3.1.2.3 simple string comparison;
RFC 9700 §2.1 / §4.1.3: no prefix, pattern or case-folding match). The one exception is the
loopback redirect of public native apps: a registered `http://127.0.0.1/path`,
`http://[::1]/path` or `http://localhost/path` matches the same URI on any port
(RFC 8252 §7.3: the client picks an ephemeral port at request time).
"""

from __future__ import annotations

import re
import string
from urllib.parse import urlsplit

# The port in ASCII digits only: `\d`, str.isdigit() and int() also take other scripts' digits
# (U+FF15 U+FF11, fullwidth "51"), matching a URI never registered (RFC 3986 §3.2.3: ASCII DIGIT).
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|\[::1\]|localhost)(?::([0-9]{1,5}))?(?=[/?]|$)")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_PRIVATE_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")  # RFC 8252 §7.1
_MAX_LENGTH = 2000
# RFC 3986 §2: unreserved, reserved and "%" of percent-encodings.
_URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
NOT_REGISTERED = "The redirect URI is not registered for this application."


class InvalidRedirectURI(ValueError):
    pass


def validate_registration(uri: str, *, public: bool) -> str:
    """Return `uri` if it may be registered; raise InvalidRedirectURI with the reason."""
    if not uri or len(uri) > _MAX_LENGTH or not _URI_CHARACTERS.issuperset(uri):
        # RFC 3986 §2: a URI is made of these ASCII characters (an IRI is registered in its
        # URI form, RFC 3987 §3.1), so that every registered URI can be matched and sent.
        raise InvalidRedirectURI(f"{uri!r}: empty, too long or holding a non-URI character")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidRedirectURI(f"{uri!r}: not a valid URI") from exc
    if "#" in uri:
        raise InvalidRedirectURI(f"{uri!r}: must not contain a fragment (RFC 6749 §3.1.2)")
    if parts.scheme in ("http", "https"):
        if not parts.hostname or "@" in parts.netloc:
            raise InvalidRedirectURI(f"{uri!r}: needs a host and no user information")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            # RFC 6749 §3.1.2.1 / RFC 9700 §2.6: TLS everywhere but on the device itself.
            raise InvalidRedirectURI(f"{uri!r}: plain http is allowed only for loopback hosts")
        if port == 0:
            raise InvalidRedirectURI(f"{uri!r}: invalid port")
        return uri
    if public and _PRIVATE_SCHEME.match(parts.scheme) and parts.path.startswith("/"):
        return uri  # RFC 8252 §7.1: reverse-domain private-use scheme of a native app
    raise InvalidRedirectURI(
        f"{uri!r}: use https, a loopback http URI, or (public apps) a reverse-domain scheme"
    )


def matches(registered: list[str], requested: str, *, public: bool) -> bool:
    """Whether `requested` is one of the app's `registered` redirect URIs."""
    if requested in registered:
        return True  # RFC 6749 §3.1.2.3: simple string comparison
    if not public:
        return False
    wanted = _without_port(requested)
    if wanted is None:
        return False
    # RFC 8252 §7.3: loopback IP redirect URIs match on any port (public native apps only).
    return any(_without_port(uri) == wanted for uri in registered)


def default_for(registered: list[str]) -> str | None:
    """RFC 6749 §3.1.2.3: without `redirect_uri`, only a single registered URI is unambiguous."""
    return registered[0] if len(registered) == 1 else None


def _without_port(uri: str) -> str | None:
    match = _LOOPBACK.match(uri)
    if match is None:
        return None
    port = match.group(2)
    if port is not None and not 0 < int(port) < 65536:
        return None
    return "http://" + match.group(1) + uri[match.end() :]
