"""Server-provided DPoP nonces (RFC 9449 §8, §9): stateless, so every process agrees.

A nonce is an HMAC, under a key derived from the server secret, of the current time slot. A
proof's nonce is accepted when it is the current slot's or the previous one's, so a nonce lives
between one and two slots and a client that refreshes it from `DPoP-Nonce` headers never sees
it expire mid-flight. Nothing is stored; a rotated server secret invalidates every nonce (the
client is simply asked again with `use_dpop_nonce`).
"""

from __future__ import annotations

import base64
import hmac
import time

SLOT_SECONDS = 60


class Nonces:
    def __init__(self, server_key: str) -> None:
        self._key = hmac.digest(server_key.encode(), b"dpop nonce", "sha256")

    def _for_slot(self, slot: int) -> str:
        mac = hmac.digest(self._key, slot.to_bytes(8, "big"), "sha256")[:18]
        return base64.urlsafe_b64encode(mac).decode()  # 24 characters, no padding needed

    def current(self, now: float | None = None) -> str:
        return self._for_slot(int((time.time() if now is None else now) // SLOT_SECONDS))

    def valid(self, nonce: object, now: float | None = None) -> bool:
        if not isinstance(nonce, str) or len(nonce) != 24:
            return False
        slot = int((time.time() if now is None else now) // SLOT_SECONDS)
        # Both compared in constant time (the expected values are secrets until published).
        current = hmac.compare_digest(nonce.encode(), self._for_slot(slot).encode())
        previous = hmac.compare_digest(nonce.encode(), self._for_slot(slot - 1).encode())
        return current or previous
