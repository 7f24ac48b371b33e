"""`c42 keys list|rotate|retire`: the OpenID Connect id_token signing keys (SPEC §10).

Every key not retired is published in the JWKS (/oauth2/jwks/); the newest of them whose
time has come signs. A rotated-in key is published by every serving process within
`CACHE_SECONDS` and signs `ACTIVATION_SECONDS` after the rotation, once every relying party
can have fetched it (`--now`: at once, for a compromised key; relying parties that fetched
the JWKS within the last minute may then fail to verify for up to a minute). Retire a
previous key only once the id_tokens it signed no longer matter to the apps (at the latest
when they expired, an hour after issue).

Both changes are audited (SPEC §8) like every operator command: `admin.key_rotate` and
`admin.key_retire`, with the key's id, never key material.
"""

from __future__ import annotations

import argparse

from c42.auth.oidc import keys
from c42.cli.output import Subcommands, add_json, audit_action, emit, emit_rows, session
from c42.models import OIDCSigningKey, utcnow
from c42.resources.common import fmt_dt
from c42.settings import get_settings


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser(
        "keys", help="manage the OpenID Connect signing keys"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = group.add_parser("list", help="list the signing keys (never the private keys)")
    add_json(p)
    p.set_defaults(handler=list_keys)
    p = group.add_parser("rotate", help="make a new signing key; earlier ones stay published")
    p.add_argument("--now", action="store_true", help="sign with it at once (a compromised key)")
    p.add_argument(
        "--alg",
        choices=keys.ALGORITHMS,
        default=keys.DEFAULT_ALGORITHM,
        help=f"signature algorithm (default {keys.DEFAULT_ALGORITHM})",
    )
    add_json(p)
    p.set_defaults(handler=rotate)
    p = group.add_parser("retire", help="stop publishing a previous key")
    p.add_argument(
        "kid",
        metavar="KID",
        help="the key's id (from `keys list`); put `--` before it, as in `c42 keys retire -- KID`, "
        "when it starts with '-' (a base64url thumbprint may)",
    )
    add_json(p)
    p.set_defaults(handler=retire)


def _row(row: OIDCSigningKey, signing_kid: str | None) -> dict[str, object]:
    if row.retired_at is not None:
        status = "retired"
    elif row.kid == signing_kid:
        status = "signing"
    else:
        status = "next" if row.active_from > utcnow() else "published"
    return {
        "kid": row.kid,
        "alg": row.alg,
        "status": status,
        "created": fmt_dt(row.created),
        "active_from": fmt_dt(row.active_from),
        "retired_at": fmt_dt(row.retired_at),
    }


def list_keys(args: argparse.Namespace) -> int:
    with session() as s:
        signing = keys.signing_kid(keys.live(s))
        rows = [_row(row, signing) for row in keys.listing(s)]
    columns = ("kid", "alg", "status", "created", "active_from", "retired_at")
    emit_rows(rows, args.json, columns, "no signing keys yet (the first is made on first use)")
    return 0


def rotate(args: argparse.Namespace) -> int:
    server_key = get_settings().resolved_secret_key()
    with session() as s:
        activate_in = 0 if args.now else keys.ACTIVATION_SECONDS
        row = keys.create(s, server_key, args.alg, activate_in=activate_in)
        data = _row(row, keys.signing_kid(keys.live(s)))
        audit_action(
            s,
            "admin.key_rotate",
            kid=row.kid,
            alg=row.alg,
            immediate=bool(args.now),
            active_from=data["active_from"],
        )
    text = (
        f"new key {data['kid']} ({data['alg']}): published by every serving process within "
        f"{keys.CACHE_SECONDS} s, signing from {data['active_from']}"
    )
    emit(data, args.json, text)
    return 0


def retire(args: argparse.Namespace) -> int:
    with session() as s:
        row = keys.retire(s, args.kid)
        data = _row(row, None)
        audit_action(s, "admin.key_retire", kid=row.kid, alg=row.alg)
    emit(data, args.json, f"retired key {data['kid']}: no longer published")
    return 0
