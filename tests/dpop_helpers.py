"""DPoP test helpers (RFC 9449), shared by the token endpoint and API tests: client keys per
algorithm, proofs signed with joserfc (any claim overridable, to build bad ones), thumbprints.

    key = make_key("ES256")
    headers = {"DPoP": proof(key, "POST", "http://testserver/oauth2/token/")}
    thumbprint(key)  # the jkt a token made with that proof is bound to
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwk, jws
from joserfc.registry import HeaderParameter

# alg -> how to make a key for it (RFC 7518 §3.1, RFC 8037 / RFC 9864 for Ed25519).
_KEYS = {
    "ES256": lambda: jwk.ECKey.generate_key("P-256"),
    "ES384": lambda: jwk.ECKey.generate_key("P-384"),
    "ES512": lambda: jwk.ECKey.generate_key("P-521"),
    "RS256": lambda: jwk.RSAKey.generate_key(2048),
    "PS256": lambda: jwk.RSAKey.generate_key(2048),
    "Ed25519": lambda: jwk.OKPKey.generate_key("Ed25519"),
}
ALGS = tuple(_KEYS)


def _anything(_value: Any) -> None:
    return None


# A registry that signs whatever the test asks for (proofs.py decides what is acceptable).
_SIGNING = jws.JWSRegistry(
    header_registry={"jwk": HeaderParameter("JWK", _anything)},
    algorithms=[*ALGS, "HS256"],
)


@dataclass(frozen=True)
class Key:
    alg: str
    jwk: Any  # joserfc key with its private part

    @property
    def public(self) -> dict[str, Any]:
        return dict(self.jwk.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return thumbprint(self)


def make_key(alg: str = "ES256") -> Key:
    """A fresh client key for `alg` (one of ALGS)."""
    return Key(alg, _KEYS[alg]())


def thumbprint(key: Key) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: the `jkt` of tokens bound to `key`."""
    return str(key.jwk.thumbprint())


def ath(access_token: str) -> str:
    """RFC 9449 §4.2: base64url SHA-256 of the access token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_DEFAULT = object()


def proof(
    key: Key,
    htm: str,
    htu: str,
    *,
    ath: str | None = None,
    nonce: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
    typ: str = "dpop+jwt",
    alg: str | None = None,
    jwk_member: Any = _DEFAULT,
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    """A compact DPoP proof JWT signed by `key` (RFC 9449 §4.2). `ath` is the hash itself (use
    `ath(token)` — or `proof_for_token`). `alg` overrides the header alg (the signature is made
    with that alg when joserfc can, e.g. "HS256" signs with a MAC over a random secret).
    `jwk_member` replaces the header's jwk (e.g. a private JWK); `claims` / `header` add or
    override members (a None value removes one)."""
    alg = alg or key.alg
    protected: dict[str, Any] = {"typ": typ, "alg": alg, "jwk": key.public}
    if jwk_member is not _DEFAULT:
        protected["jwk"] = jwk_member
    body: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(16),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }
    if ath is not None:
        body["ath"] = ath
    if nonce is not None:
        body["nonce"] = nonce
    for target, extra in ((protected, header), (body, claims)):
        for name, value in (extra or {}).items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
    payload = json.dumps(body, separators=(",", ":")).encode()
    if alg == "none":
        return _unsigned(protected, payload)
    signing_key = key.jwk
    if alg == "HS256":
        signing_key = jwk.OctKey.generate_key(256)
    return str(jws.serialize_compact(protected, payload, signing_key, registry=_SIGNING))


def proof_for_token(key: Key, htm: str, htu: str, access_token: str, **options: Any) -> str:
    """A proof for calling a protected resource with `access_token` (carries its ath)."""
    return proof(key, htm, htu, ath=ath(access_token), **options)


def b64url(raw: bytes) -> str:
    """RFC 7515 §2: base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(protected: dict[str, Any], payload: bytes) -> str:
    header = b64url(json.dumps(protected, separators=(",", ":")).encode())
    return f"{header}.{b64url(payload)}."
