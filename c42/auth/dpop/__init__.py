"""DPoP (RFC 9449): proofs of possession of a client's key, shared by the token endpoint and
the API (SPEC §11).

- `proofs`: checks one `DPoP` proof JWT (joserfc for the JOSE parts) against the request it
  came with: its key, `htm`, `htu`, `iat`, `jti`, `ath` and `nonce`.
- `replay`: the `jti` cache, shared across processes through Redis (in-process without it).
- `nonces`: stateless server nonces (`DPoP-Nonce`), the same in every process.
- `challenges`: the error codes and the `WWW-Authenticate: DPoP ...` challenge.
"""
