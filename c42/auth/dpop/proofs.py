"""Checking one DPoP proof against the request it came with (RFC 9449 §4.3).

`check` answers the proof's key thumbprint (RFC 7638, the `jkt` tokens are bound to) or raises
`DPoPError`. Every refusal names the rule; none echoes the proof. The JOSE parts (checking the
protected header, importing the public JWK, the algorithms, the thumbprint) are joserfc's.

Cost on the API's hot path (issue 16: a DPoP list within 25% of a Bearer list): clients reuse
one protected header (alg, typ, jwk) for all their proofs, so its parsing, key import and
thumbprint are cached by the header's encoded form, with a verifier made for its key once; a
proof then costs one signature verification (OpenSSL's, through `cryptography`: most of the
cost) plus a strict base64url decode, one orjson parse, a handful of claim checks and the
replay cache's one set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwk, jws
from joserfc.errors import JoseError

from c42.auth import secrets
from c42.auth.dpop.nonces import Nonces
from c42.auth.dpop.replay import ReplayCache

# SPEC §11: ES256 and RS256 at least; the asymmetric algorithms joserfc verifies. Never `none`
# and never a MAC (RFC 9449 §4.2: "MUST NOT be none or an identifier for a symmetric algorithm").
ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "RS256", "Ed25519")  # RFC 9864: not EdDSA
MAX_AGE_SECONDS = 60  # RFC 9449 §11.1: proofs are accepted for a short time after `iat`
MAX_FUTURE_SECONDS = 10  # clock skew allowance for an `iat` slightly ahead of ours
REPLAY_TTL_SECONDS = MAX_AGE_SECONDS + MAX_FUTURE_SECONDS + 5  # outlives every acceptable iat
MAX_PROOF_LENGTH = 8192  # an RSA-4096 proof is about 1.5 KB
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class _ProofRegistry(jws.JWSRegistry):
    max_header_length = 4096  # the header carries the public JWK (RSA-4096: about 800 bytes)


_REGISTRY = _ProofRegistry(algorithms=ALGORITHMS)

INVALID_PROOF = "invalid_dpop_proof"
USE_NONCE = "use_dpop_nonce"
_REPLAYED = "This DPoP proof was already used (jti)."


class DPoPError(Exception):
    """A refused proof: `code` is RFC 9449's error code, `description` says which rule."""

    def __init__(self, description: str, code: str = INVALID_PROOF) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class Proof:
    jkt: str  # RFC 7638 thumbprint of the proof's key (base64url SHA-256)
    jti: str


@dataclass(frozen=True, slots=True)
class _Header:
    alg: str
    jkt: str
    verify: Callable[[bytes, bytes], bool]  # (signing input, signature) -> it verifies


class ProofChecker:
    """One per process: the nonce key and the replay cache (shared with Redis when set)."""

    def __init__(self, server_key: str, redis_url: str | None, *, require_nonce: bool) -> None:
        self.nonces = Nonces(server_key)
        self.replays = ReplayCache(redis_url)
        self.require_nonce = require_nonce

    def check(
        self,
        values: list[str],
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        now: float | None = None,
    ) -> Proof:
        """The proof among a request's `DPoP` header `values`, checked for `method` and `url`
        (the request's absolute URL, see `request_url`); with `access_token` (at a protected
        resource) its `ath` too. Blocking with Redis: `check_async` on the event loop."""
        proof = self._verify(values, method, url, access_token, now)
        # §11.1: a proof is used once (checked last: refused proofs do not fill the cache).
        if not self.replays.first_use(proof.jkt, proof.jti, REPLAY_TTL_SECONDS):
            raise DPoPError(_REPLAYED)
        return proof

    async def check_async(
        self, values: list[str], *, method: str, url: str, access_token: str | None = None
    ) -> Proof:
        """`check` on the event loop (the replay cache's Redis `SET` awaited there)."""
        proof = self._verify(values, method, url, access_token, None)
        if not await self.replays.first_use_async(proof.jkt, proof.jti, REPLAY_TTL_SECONDS):
            raise DPoPError(_REPLAYED)  # §11.1, as in `check`
        return proof

    def _verify(
        self, values: list[str], method: str, url: str, access_token: str | None, now: float | None
    ) -> Proof:
        """Every rule of RFC 9449 §4.3 but the replay cache's (pure CPU)."""
        # RFC 9449 §4.3 (1): exactly one DPoP header field, (2) one well-formed JWT.
        if len(values) != 1:
            raise DPoPError("Send exactly one DPoP header.")
        value = values[0].strip()
        if not value or len(value) > MAX_PROOF_LENGTH or value.count(".") != 2:
            raise DPoPError("The DPoP proof is not a compact JWT.")
        signing_input, _, encoded_signature = value.rpartition(".")
        encoded_header, _, encoded_payload = signing_input.partition(".")
        header = _header(encoded_header)
        try:
            # (5), (6), (7): the signature verifies with the header's own public key (the
            # header checked and its key imported once, cached).
            if not header.verify(signing_input.encode("ascii"), _b64decode(encoded_signature)):
                raise DPoPError("The DPoP proof's signature does not verify.")
            claims = _json(_b64decode(encoded_payload))
        except (JoseError, ValueError, TypeError):  # binascii and Unicode errors are ValueErrors
            raise DPoPError("The DPoP proof's signature does not verify.") from None
        if not isinstance(claims, dict):
            raise DPoPError("The DPoP proof's claims are not a JSON object.")
        moment = time.time() if now is None else now
        jti = _text(claims, "jti", 256)
        # (8): htm is the request's method (RFC 9110 §9.1: methods are case-sensitive).
        if _text(claims, "htm", 32) != method:
            raise DPoPError("The DPoP proof was made for another HTTP method (htm).")
        # (9): htu is the request's URL, without query and fragment, both normalised. A URL
        # that does not normalise matches nothing (never None == None: a garbage htu would
        # pass wherever our own URL does not parse, e.g. an issuer with a port over 65535).
        expected = normalise_url(url)
        if expected is None or normalise_url(_text(claims, "htu", 2048)) != expected:
            raise DPoPError("The DPoP proof was made for another URL (htu).")
        # (11): iat within an acceptable window (§11.1).
        iat = claims.get("iat")
        # A NaN passes every comparison (and 1e400 is an infinity): only a finite number, or
        # such a proof would be acceptable forever, replayable once its jti left the cache.
        if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
            raise DPoPError("The DPoP proof has no numeric iat.")
        if iat > moment + MAX_FUTURE_SECONDS or iat < moment - MAX_AGE_SECONDS:
            raise DPoPError("The DPoP proof is stale or from the future (iat).")
        # (10): a server-provided nonce, when one is required or was sent (§8, §9).
        nonce = claims.get("nonce")
        if nonce is not None or self.require_nonce:
            if nonce is None:
                raise DPoPError("This server requires a DPoP nonce.", USE_NONCE)
            if not self.nonces.valid(nonce, moment):
                raise DPoPError("The DPoP nonce is not current.", USE_NONCE)
        # (12): at a protected resource, ath is the hash of the access token presented.
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not secrets.same(access_token_hash(access_token), ath):
                raise DPoPError("The DPoP proof's ath does not match the access token.")
        return Proof(jkt=header.jkt, jti=jti)


@lru_cache(maxsize=4096)
def _header(encoded: str) -> _Header:
    """The protected header, checked and its key imported (cached: clients reuse it)."""
    try:
        header = _json(_b64decode(encoded))
    except ValueError:
        raise DPoPError("The DPoP proof's header is not base64url JSON.") from None
    if not isinstance(header, dict):
        raise DPoPError("The DPoP proof's header is not a JSON object.")
    # RFC 9449 §4.3 (4): typ dpop+jwt; (5): an asymmetric algorithm we support.
    if header.get("typ") != "dpop+jwt":
        raise DPoPError("The DPoP proof's typ is not dpop+jwt.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise DPoPError(f"The DPoP proof's alg is not one of {' '.join(ALGORITHMS)}.")
    # (6): the public key is in the header, and only a public key.
    member = header.get("jwk")
    if not isinstance(member, dict) or _PRIVATE_MEMBERS & member.keys():
        raise DPoPError("The DPoP proof's jwk is not a public key.")
    if member.get("kty") == "RSA":
        _check_rsa_size(member)  # before importing: joserfc would only warn
    try:
        _REGISTRY.check_header(header)  # RFC 7515 §4.1.11: no crit we do not understand
        algorithm = _REGISTRY.get_alg(alg)
        key = jwk.JWKRegistry.import_key(member)
        algorithm.check_key(key)  # kty (and curve) fit the alg
        verify = _verifier(alg, algorithm, key)  # refuses a jwk whose key_ops exclude verify
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        raise DPoPError("The DPoP proof's jwk is not a usable key for its alg.") from None
    return _Header(alg=alg, jkt=key.thumbprint(), verify=verify)


# RFC 7518 §3.4: ES256, ES384 and ES512 hash with SHA-256, SHA-384 and SHA-512.
_ECDSA = {
    "ES256": ec.ECDSA(hashes.SHA256()),
    "ES384": ec.ECDSA(hashes.SHA384()),
    "ES512": ec.ECDSA(hashes.SHA512()),
}


def _verifier(alg: str, algorithm: Any, key: Any) -> Callable[[bytes, bytes], bool]:
    """How a proof's signature is verified: joserfc's algorithm, except for ECDSA (what
    clients send, ES256 above all), where its steps are done with the cryptography key and
    hash objects made once, not on every request (about a tenth of a proof's cost)."""
    ecdsa = _ECDSA.get(alg)
    if ecdsa is None:
        return partial(_verify_with_joserfc, algorithm, key)
    public = key.get_op_key("verify")  # the cryptography public key joserfc imported
    size = (key.curve_key_size + 7) // 8

    def verify(signing_input: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4: the JWS signature is R || S, each as long as the curve's order;
        # OpenSSL takes them DER-encoded.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            public.verify(encode_dss_signature(r, s), signing_input, ecdsa)
        except InvalidSignature:
            return False
        return True

    return verify


def _verify_with_joserfc(algorithm: Any, key: Any, signing_input: bytes, signature: bytes) -> bool:
    return bool(algorithm.verify(signing_input, signature, key))


def _json(data: bytes) -> Any:
    """Strict RFC 8259 JSON (orjson): no NaN, Infinity or -Infinity, which Python's own parser
    reads (RFC 7519 §2: NumericDate is a JSON number, so never one of those), no byte order
    mark, no lone surrogate. Its errors are ValueErrors."""
    return orjson.loads(data)


def _check_rsa_size(member: dict[str, Any]) -> None:
    """RSA keys of 2048 to 8192 bits with a small public exponent: shorter ones are weak,
    longer ones (or a huge exponent) make every verification expensive."""
    try:
        n, e = (_b64decode(member[name]) for name in ("n", "e"))
    except (KeyError, TypeError, ValueError):
        raise DPoPError("The DPoP proof's RSA jwk has no valid n and e.") from None
    bits = int.from_bytes(n, "big").bit_length()
    if bits < MIN_RSA_BITS:
        raise DPoPError("The DPoP proof's RSA key is shorter than 2048 bits.")
    if bits > MAX_RSA_BITS or len(e) > 4:
        raise DPoPError("The DPoP proof's RSA key is longer than 8192 bits.")


# RFC 7515 §2: base64url without padding. Mapped to standard base64 for binascii, with '+',
# '/' and '=' (not base64url's, or padding we add ourselves) mapped to a byte it refuses.
_FROM_BASE64URL = bytes.maketrans(b"-_+/=", b"+/***")


def _b64decode(value: object) -> bytes:
    """Strict base64url (binascii's strict mode: no character outside the alphabet, no
    whitespace); a ValueError (binascii.Error, UnicodeEncodeError) for anything else."""
    if not isinstance(value, str):
        raise TypeError("not text")
    data = value.encode("ascii").translate(_FROM_BASE64URL)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)


def _text(claims: dict[str, Any], name: str, limit: int) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise DPoPError(f"The DPoP proof has no valid {name}.")
    return value


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII form."""
    raw = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@lru_cache(maxsize=1024)  # clients send the same htu over and over; the server's URLs too
def normalise_url(url: str) -> str | None:
    """RFC 9449 §4.3 (9): compare htu without query and fragment, after RFC 3986 §6.2.2
    syntax-based normalisation (case of scheme and host, percent-encoding of unreserved
    characters and hex case, dot segments left as sent) and §6.2.3 scheme-based normalisation
    (default port, empty path is "/"). None for what is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None  # no user information: an htu naming one is not our URL
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{_normalise_path(parts.path) or '/'}"


def _normalise_path(path: str) -> str:
    if "%" not in path:
        return path
    out: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == "%" and _is_hex(path[i + 1 : i + 3]):
            char = unquote(path[i : i + 3])
            out.append(char if char in _UNRESERVED else path[i : i + 3].upper())
            i += 3
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def request_url(issuer: str, path: str) -> str:
    """The absolute URL a client addressed: the public origin (the issuer's scheme and
    authority, which proxies may rewrite before us) and the request's path."""
    return _origin(issuer) + path


@lru_cache(maxsize=8)  # one issuer per server
def _origin(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"
