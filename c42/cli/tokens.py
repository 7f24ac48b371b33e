"""`c42 token create`."""

from __future__ import annotations

import argparse

from c42 import accounts
from c42.auth.user_tokens import repository as user_tokens
from c42.cli.output import CommandError, emit, session

WARNING = "User Tokens are server tokens: never embed them in web or mobile apps."


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("token", help="manage User Tokens").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("create", help="create a User Token (shown once)")
    p.add_argument("email")
    p.add_argument("--name", default="")
    p.add_argument("--expires-in", type=int, metavar="SECONDS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=create)


def create(args: argparse.Namespace) -> int:
    if args.expires_in is not None and args.expires_in <= 0:
        raise CommandError("--expires-in must be a positive number of seconds")
    with session() as s:
        user = accounts.get_user(s, args.email)
        if not user.is_active:
            raise CommandError(f"{user.email} is not active")
        created = user_tokens.create(s, user.id, args.name, args.expires_in)
    data = {"id": created.id, "token": created.token, "warning": WARNING}
    emit(data, args.json, f"{created.token}\n(id {created.id}; {WARNING})")
    return 0
