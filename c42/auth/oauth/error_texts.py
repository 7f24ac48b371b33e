"""Our `error_description` for every OAuth error (SPEC §8: written for people; it names the
parameter or the rule at fault, never a library's internal text or a Python value).

Authlib raises its errors with its own sentences ("Invalid 'code' in request.", "The client
cannot authenticate with methods: ['client_secret_basic', ...]") or none at all. Every error
the authorization server answers with passes `ours` once (`OAuthServer.handle_error_response`
and the authorization request's validation), which swaps a known library text for ours and
gives a text to an error that has none. Descriptions we wrote ourselves pass unchanged.
RFC 6749 §5.2: error_description is ASCII without '"' and '\\'.
"""

from __future__ import annotations

import re

from authlib.oauth2 import OAuth2Error

_PKCE_CHARS = "43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'"
_METADATA = "/.well-known/oauth-authorization-server"

# (error, Authlib's description) -> ours
_EXACT: dict[tuple[str, str | None], str] = {
    ("invalid_request", "Missing 'code' in request."): (
        "The code parameter is missing: send the code that came with the redirect."
    ),
    ("invalid_grant", "Invalid 'code' in request."): (
        "The code is unknown, expired or already used, or was issued to another client "
        "(RFC 6749 4.1.3)."
    ),
    ("invalid_grant", "Invalid 'redirect_uri' in request."): (
        "redirect_uri must be the one sent in the authorization request (RFC 6749 4.1.3)."
    ),
    ("invalid_grant", "There is no 'user' for this code."): (
        "The account this code was issued for can no longer sign in."
    ),
    ("invalid_request", "Missing 'refresh_token' in request."): (
        "The refresh_token parameter is missing."
    ),
    ("invalid_request", "There is no 'user' for this token."): (
        "The account this refresh_token was issued for can no longer sign in."
    ),
    ("invalid_client", "Missing 'client_id' parameter."): (
        "client_id is missing: a public app sends its client_id, a confidential app "
        "authenticates with HTTP Basic (RFC 6749 2.3.1)."
    ),
    ("invalid_client", "The client does not exist on this server."): (
        "client_id is not that of a registered (and enabled) app."
    ),
    ("invalid_request", "Missing 'code_challenge'"): (
        "This app must use PKCE: send code_challenge with code_challenge_method=S256 "
        "(RFC 7636 4.3)."
    ),
    ("invalid_request", "Invalid 'code_challenge'"): (
        f"code_challenge must be {_PKCE_CHARS} (RFC 7636 4.2)."
    ),
    ("invalid_request", "Unsupported 'code_challenge_method'"): (
        "code_challenge_method must be S256 (RFC 7636 4.3)."
    ),
    ("invalid_request", "Missing 'code_verifier'"): (
        "code_verifier is missing: the authorization request sent a code_challenge (RFC 7636 4.5)."
    ),
    ("invalid_request", "Invalid 'code_verifier'"): (
        f"code_verifier must be {_PKCE_CHARS} (RFC 7636 4.1)."
    ),
    ("invalid_grant", "Code challenge failed."): (
        "code_verifier does not match the code_challenge of the authorization request "
        "(RFC 7636 4.6)."
    ),
    ("invalid_request", "Missing 'redirect_uri' in request."): (
        "redirect_uri is missing: this app registered several, so the request must name one "
        "(RFC 6749 3.1.2.3)."
    ),
    ("invalid_request", "Missing 'token'."): (
        "The token parameter is missing (RFC 7009 2.1, RFC 7662 2.1)."
    ),
    ("invalid_scope", "The requested scope is invalid, unknown, or malformed."): (
        "scope names a scope that does not exist or that this app may not ask for "
        f"(scopes_supported in {_METADATA} lists them)."
    ),
    ("access_denied", "The resource owner or authorization server denied the request"): (
        "The user did not allow the app access."
    ),
}

# (error, pattern of Authlib's description) -> ours; a group "name" is put into ours.
_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "invalid_client",
        re.compile(r"The client cannot authenticate with methods: "),
        "Client authentication failed: the client_secret is wrong or missing, or this app "
        "may not authenticate this way (a confidential app sends client_id and client_secret, "
        "with HTTP Basic or in the form body; a public app sends only its client_id; "
        "introspection is for confidential apps).",
    ),
    (
        "invalid_request",
        re.compile(r"Redirect URI .* is not supported by client\.", re.S),
        "This redirect URI is not registered for the app (exact match, RFC 6749 3.1.2).",
    ),
    (
        "invalid_request",
        re.compile(r"Multiple '(?P<name>\w{1,64})' in request\."),
        "{name} appears more than once; send each parameter once (RFC 6749 3.1).",
    ),
    (
        "unsupported_response_type",
        re.compile(r"The response type .* is not supported by the server\.", re.S),
        "response_type must be code (RFC 6749 4.1.1).",
    ),
    (
        "unauthorized_client",
        re.compile(r"The client is not authorized to use 'grant_type=(?P<name>\w{1,64})'"),
        "This app may not use grant_type={name}.",
    ),
]

# Errors Authlib raises without a description.
_WHEN_NONE: dict[str, str] = {
    "unsupported_grant_type": (
        f"grant_type is missing or not one this server supports (grant_types_supported in "
        f"{_METADATA} lists them)."
    ),
    "invalid_grant": (
        "The refresh_token is unknown, expired or revoked, or was issued to another client "
        "(RFC 6749 6)."
    ),
    "unsupported_response_type": "response_type must be code (RFC 6749 4.1.1).",
    "invalid_client": "Client authentication failed.",
    "invalid_request": "The request is missing a parameter or has one that is not valid.",
    "invalid_scope": _EXACT[
        ("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
    ],
    # RFC 8628 §3.5: the device grant's polling answers.
    "authorization_pending": (
        "Nobody has allowed or denied this device code yet: poll again after the interval "
        "(RFC 8628 3.5)."
    ),
    "slow_down": "Polling too fast: add 5 seconds to the interval, from now on (RFC 8628 3.5).",
    "expired_token": (
        "The device code has expired: ask for a new one at the device authorization endpoint "
        "(RFC 8628 3.5)."
    ),
    "access_denied": "The user did not allow the app access.",
}


def text_for(error: str, description: str | None) -> str | None:
    """Our text for Authlib's (error, description), or None when the description is ours."""
    if not description:
        return _WHEN_NONE.get(error, "The request was refused.")
    exact = _EXACT.get((error, description))
    if exact is not None:
        return exact
    for code, pattern, text in _PATTERNS:
        if code == error and (found := pattern.match(description)) is not None:
            return text.format(**found.groupdict())
    return None


def ours(error: OAuth2Error) -> OAuth2Error:
    """`error` with our description (the body, the redirect and WWW-Authenticate read it)."""
    text = text_for(error.error, error.description)
    if text is not None:
        error.description = text
    return error
