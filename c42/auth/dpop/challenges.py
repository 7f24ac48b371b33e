"""The `WWW-Authenticate: DPoP ...` challenge of a protected resource (RFC 9449 §7.1).

A resource that accepts both schemes lists both (RFC 9449 §7.2, RFC 9110 §11.6.1); the error
parameters belong to the challenge of the scheme the client used, so a client reading its own
scheme's challenge never takes the other scheme's error for its own.
"""

from __future__ import annotations

from c42.auth.dpop.proofs import ALGORITHMS, INVALID_PROOF, USE_NONCE

__all__ = ["ALGS", "INVALID_PROOF", "NONCE_HEADER", "USE_NONCE", "challenge"]

ALGS = " ".join(ALGORITHMS)  # RFC 9449 §7.1: algs, space-delimited JWS alg values
NONCE_HEADER = "DPoP-Nonce"  # RFC 9449 §8, §9


def challenge(realm: str, error: str | None = None, description: str | None = None) -> str:
    """`DPoP realm=..., algs=...`, with `error` and `error_description` when refusing a token
    or a proof sent with the DPoP scheme (RFC 9449 §7.1). `description` is our own text (never
    a value from the request), so it needs no quoting beyond the quotes."""
    parts = [f'DPoP realm="{realm}"', f'algs="{ALGS}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return ", ".join(parts)
