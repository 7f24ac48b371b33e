"""The DPoP list (issue 16: "measure a DPoP list against the Bearer list in make bench,
target: within 25%"): `events_list_dpop` is `events_list_bearer` with a DPoP-bound access token
(RFC 9449 §7.1) and a new proof on every request.

wrk cannot sign, so each wrk run gets its proofs made right before it (`Scenario.once_headers`,
sent once each by bench/c42.lua): ES256, one key, a unique `jti`, `iat` at generation (a run
must end within the 60 s a proof is accepted: runs of up to ~45 s), `htu` the list's URL on
the server under test and `ath` of the token. They are signed with `cryptography` directly
(the header is the same for all; ~40 us each on a quiet core, in parallel over the cores), so
making 40,000 takes a second or two. The server checks each with joserfc as for any client.

`verdict` prints "events_list_dpop / events_list_bearer" against the 0.75 target.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as random_secrets
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk
from sqlalchemy import insert, select

from bench import oauth as bench_oauth
from c42.auth import secrets
from c42.auth.dpop.proofs import request_url
from c42.models import OAuthApp, OAuthToken

if TYPE_CHECKING:
    from bench.report import TargetRun
    from bench.scenarios import Scenario
    from bench.seed import Seeded

NAME = "events_list_dpop"
BEARER = "events_list_bearer"
PATH = "/api/v2/events/"
TARGET = 0.75  # issue 16: the DPoP list within 25% of the Bearer list (req/s)
_PARALLEL_FROM = 5000  # below this many proofs, one process is quicker than a pool


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ProofMaker:
    """Makes DPoP proofs for one key and one access token (picklable: a PEM and strings)."""

    def __init__(self, private_pem: bytes, public_jwk: dict[str, Any], token: str) -> None:
        self.private_pem = private_pem
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk}
        self.header = _b64(json.dumps(header, separators=(",", ":")).encode())
        self.ath = _b64(hashlib.sha256(token.encode()).digest())  # RFC 9449 §4.2

    def make(self, htu: str, count: int) -> list[str]:
        key = serialization.load_pem_private_key(self.private_pem, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        iat = int(time.time())
        algorithm = ec.ECDSA(hashes.SHA256())
        proofs = []
        for _ in range(count):
            claims = {
                "jti": random_secrets.token_urlsafe(12),
                "htm": "GET",
                "htu": htu,
                "iat": iat,
                "ath": self.ath,
            }
            signing_input = f"{self.header}.{_b64(json.dumps(claims).encode())}"
            r, s = decode_dss_signature(key.sign(signing_input.encode(), algorithm))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 7518 §3.4
            proofs.append(f"{signing_input}.{_b64(signature)}")
        return proofs

    def headers(self, base_url: str, count: int) -> list[str]:
        """`count` lines "DPoP: <proof>" for GET base_url + PATH."""
        # The server checks htu against its issuer's origin (c42 serve: its own address).
        htu = request_url(os.environ.get("C42_ISSUER") or base_url, PATH)
        workers = os.cpu_count() or 1
        if count < _PARALLEL_FROM or workers == 1:
            proofs = self.make(htu, count)
        else:
            shares = [count // workers + (i < count % workers) for i in range(workers)]
            with ProcessPoolExecutor(workers) as pool:
                batches = pool.map(self.make, [htu] * workers, shares)
                proofs = [proof for batch in batches for proof in batch]
        return [f"DPoP: {proof}" for proof in proofs]


def events_list_dpop(seeded: Seeded) -> Scenario | None:
    """The Bearer list's page with a DPoP-bound token of the same app and user."""
    from bench.scenarios import Scenario

    if not seeded.oauth_client_id:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = jwk.ECKey.import_key(key.public_key())
    token = secrets.new_opaque_token()
    db = bench_oauth.database_of(seeded.url, seeded.scale)
    try:
        with db.session(write=True) as session:
            app_id = session.scalar(
                select(OAuthApp.id).where(OAuthApp.client_id == seeded.oauth_client_id)
            )
            if app_id is None:
                raise SystemExit(f"the bench app {seeded.oauth_client_id} is missing: seed again")
            row = bench_oauth._row(app_id, seeded.bench_user_id, token)
            session.execute(insert(OAuthToken), [{**row, "dpop_jkt": public.thumbprint()}])
    finally:
        db.dispose()
    maker = ProofMaker(pem, dict(public.as_dict(private=False)), token)

    def check(body: Any) -> str | None:
        meta, data = body.get("meta_data", {}), body.get("data", [])
        if meta.get("count") != seeded.bearer_visible_events or len(data) != 10:
            return f"dpop list: count {meta.get('count')} (want {seeded.bearer_visible_events})"
        return None

    return Scenario(
        NAME,
        PATH + "?limit=10",
        headers={"Authorization": f"DPoP {token}"},
        once_headers=maker.headers,
        check=check,
    )


def verdict(run: TargetRun) -> tuple[str, str, bool] | None:
    """(figure, target, met) of the DPoP list against the Bearer list of the same run."""
    if NAME not in run.rounds or BEARER not in run.rounds:
        return None
    if any(r.failures for name in (NAME, BEARER) for r in run.rounds[name]):
        # A refused request is cheap (e.g. past the end of the proofs): no verdict then.
        return "requests failed", f">= {TARGET}", False
    bearer = run.median(BEARER, "rps")
    if not bearer:
        return None
    share = run.median(NAME, "rps") / bearer
    return f"{share:.3f}", f">= {TARGET}", share >= TARGET
