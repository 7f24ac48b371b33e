"""DPoP at the authorization server (RFC 9449 §5, §6, §10): every decision of the token and
PAR endpoints about proofs and key binding, in one module.

- `read_proof`: the request's `DPoP` header is checked once, before Authlib reads the request
  (`OAuthServer.create_token_response` / PAR); the `Proof` (or None) stays on the request.
- `require_key`: what a token request must prove — an app flagged `require_dpop` any key; a
  code bound by `dpop_jkt` (§10) or a public app's bound refresh token (§5) that key.
- `binding`: the key the issued pair is bound to (the proof's, whenever one was sent).
Errors are RFC 6749 §5.2 bodies with RFC 9449's codes: `invalid_dpop_proof` (§5),
`use_dpop_nonce` with a fresh `DPoP-Nonce` header (§8).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error

from c42.auth.dpop.proofs import USE_NONCE, DPoPError, Proof, ProofChecker, request_url

DPOP = "DPoP"  # RFC 9449 §5: the token_type of a bound access token
# RFC 9449 §10 / RFC 7638: a base64url SHA-256 thumbprint, 43 characters without padding.
JKT = re.compile(r"[A-Za-z0-9_-]{43}")


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]  # Authlib is untyped
    error = "invalid_dpop_proof"  # RFC 9449 §5
    status_code = 400


class UseDPoPNonceError(OAuth2Error):  # type: ignore[misc]  # Authlib is untyped
    """RFC 9449 §8: the proof needs the server's nonce, sent along in `DPoP-Nonce`."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, description: str, nonce: str) -> None:
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("DPoP-Nonce", self.nonce)]


def read_proof(checker: ProofChecker | None, request: Any, issuer: str) -> Proof | None:
    """The request's checked proof, None without a `DPoP` header; a refused proof raises the
    RFC 9449 error. htu is the endpoint's public URL (§4.3 (9): no query)."""
    values = request.headers.getlist("dpop")
    if not values or checker is None:
        return None
    try:
        return checker.check(values, method="POST", url=request_url(issuer, _path(request.uri)))
    except DPoPError as error:
        if error.code == USE_NONCE:
            raise UseDPoPNonceError(error.description, checker.nonces.current()) from None
        raise InvalidDPoPProofError(error.description) from None


def _path(uri: str) -> str:
    return urlsplit(uri).path


def require_key(request: Any, jkt: str | None, what: str) -> None:
    """`jkt`: the key `what` is bound to (None: unbound). A bound one needs a proof by that
    key; an app flagged require_dpop needs a proof of some key (checked at client auth)."""
    proof: Proof | None = getattr(request, "dpop", None)
    if jkt is None:
        return
    if proof is None:
        raise InvalidDPoPProofError(f"{what} is bound to a DPoP key: send a DPoP proof by it.")
    if proof.jkt != jkt:
        raise InvalidDPoPProofError(f"The DPoP proof's key is not the one {what} is bound to.")


def require_any(request: Any, client: Any) -> None:
    """SPEC §11: an app set to require DPoP gets tokens only with a proof (RFC 9449 §5: the
    proof is missing, so invalid_dpop_proof)."""
    if client.app.require_dpop and getattr(request, "dpop", None) is None:
        raise InvalidDPoPProofError("This app must send a DPoP proof with every token request.")


def binding(request: Any) -> str | None:
    """The key the issued tokens are bound to: the proof's (RFC 9449 §5), or none (Bearer)."""
    proof: Proof | None = getattr(request, "dpop", None)
    return proof.jkt if proof is not None else None


def token_type(jkt: str | None) -> str:
    return DPOP if jkt else "Bearer"


def authorization_jkt(data: Any) -> str | None:
    """The `dpop_jkt` of an authorization request, checked (RFC 9449 §10); None when absent."""
    value = data.get("dpop_jkt")
    if value is None:
        return None
    if not isinstance(value, str) or not JKT.fullmatch(value):
        raise InvalidRequestError(
            "dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key "
            "(43 characters, RFC 9449 10)."
        )
    return value


def pushed_jkt(request: Any) -> str | None:
    """RFC 9449 §10.1: a PAR binds by `dpop_jkt` or by a DPoP header; both must agree."""
    sent = authorization_jkt(request.form)
    proof: Proof | None = getattr(request, "dpop", None)
    if proof is not None and sent is not None and proof.jkt != sent:
        raise InvalidDPoPProofError("dpop_jkt is not the thumbprint of the DPoP proof's key.")
    return sent or (proof.jkt if proof is not None else None)
