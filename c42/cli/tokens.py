"""`c42 token create|list|revoke`: User Tokens (SPEC §5.1, §8)."""

from __future__ import annotations

import argparse

from c42 import accounts
from c42.auth import credentials
from c42.auth.user_tokens import repository as user_tokens
from c42.cli.output import (
    CommandError,
    Subcommands,
    add_json,
    emit,
    emit_rows,
    revoke_token,
    session,
)
from c42.models import UserToken
from c42.resources.common import fmt_dt
from c42.validation import USER_TOKEN_EXPIRES_IN, check_bounds, check_name

WARNING = "User Tokens are server tokens: never embed them in web or mobile apps."


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser("token", help="manage User Tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = group.add_parser("create", help="create a User Token (shown once)")
    p.add_argument("email", help="the e-mail address of the token's user")
    p.add_argument("--name", default="", help="a name to recognise the token by")
    bounds = USER_TOKEN_EXPIRES_IN
    p.add_argument(
        "--expires-in",
        type=int,
        metavar="SECONDS",
        help=f"lifetime, {bounds.low}..{bounds.high} seconds (default: no expiry)",
    )
    add_json(p)
    p.set_defaults(handler=create)
    p = group.add_parser("list", help="list a user's live User Tokens (never the secrets)")
    p.add_argument("email", help="the e-mail address of the tokens' user")
    add_json(p)
    p.set_defaults(handler=list_tokens)
    p = group.add_parser("revoke", help="revoke a User Token in every serving process at once")
    p.add_argument("token_id", metavar="TOKEN_ID", help="the token's id (from `token list`)")
    add_json(p)
    p.set_defaults(handler=revoke)


def create(args: argparse.Namespace) -> int:
    # The API's rules (c42.validation), so the CLI accepts what POST /user-tokens/ accepts.
    check_bounds(args.expires_in, USER_TOKEN_EXPIRES_IN, "--expires-in", " seconds")
    name = check_name(args.name, "--name", required=False)
    with session() as s:
        user = accounts.get_user(s, args.email)
        if not user.is_active:
            raise CommandError(f"{user.email} is not active")
        created = user_tokens.create(s, user.id, name, args.expires_in)
    data = {"id": created.id, "token": created.token, "warning": WARNING}
    emit(data, args.json, f"{created.token}\n(id {created.id}; {WARNING})")
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "created": fmt_dt(t.created),
                "last_used": fmt_dt(t.last_used),
                "expires_at": fmt_dt(t.expires_at),
            }
            for t in credentials.live_user_tokens(s, user.id)
        ]
    columns = ("id", "name", "created", "last_used", "expires_at")
    emit_rows(rows, args.json, columns, "no live User Tokens")
    return 0


def revoke(args: argparse.Namespace) -> int:
    return revoke_token(
        args, credentials.revoke_user_token, UserToken, "admin.user_token_revoke", "User Token"
    )
