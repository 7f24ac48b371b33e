"""`c42 action-token create|list|revoke` (SPEC §5.2, §8); create:
`c42 action-token create EMAIL --grant 'METHOD ROUTE[ NAME=VALUE ...]' ...`.

The operator creates a token for the user themselves (creator = holder, no service
restriction). Grants are validated against the app's real routes, exactly as the API does.
"""

from __future__ import annotations

import argparse
from typing import Any

from c42 import accounts
from c42.auth import credentials
from c42.auth.action_tokens import issuing
from c42.auth.action_tokens import repository as action_tokens
from c42.cli.output import (
    CommandError,
    Subcommands,
    add_json,
    emit,
    emit_rows,
    revoke_token,
    session,
)
from c42.models import ActionToken
from c42.resources import common
from c42.resources.tokens import endpoint_table
from c42.resources.tokens.action_tokens import serialize
from c42.resources.tokens.user_tokens import SERVER_TOKEN_WARNING
from c42.validation import (
    ACTION_TOKEN_EXPIRES_IN,
    ACTION_TOKEN_MAX_GRANTS,
    ACTION_TOKEN_MAX_USES,
    check_bounds,
    check_name,
)

GrantSpec = tuple[str, str, dict[str, str]]


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser("action-token", help="manage Action Tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = group.add_parser("create", help="create an Action Token for a user (shown once)")
    p.add_argument("email", help="the e-mail address of the token's holder")
    p.add_argument(
        "--grant",
        action="append",
        required=True,
        metavar="'METHOD ROUTE[ NAME=VALUE]'",
        help="e.g. 'PATCH /api/v2/event-subscriptions/{id}/ id=<32 hex>' (repeatable)",
    )
    expiry, uses = ACTION_TOKEN_EXPIRES_IN, ACTION_TOKEN_MAX_USES
    p.add_argument(
        "--expires-in",
        type=int,
        metavar="SECONDS",
        help=f"lifetime, {expiry.low}..{expiry.high} seconds (default: no expiry)",
    )
    p.add_argument(
        "--max-uses",
        type=int,
        metavar="N",
        help=f"how many requests it may make, {uses.low}..{uses.high} (default: unlimited)",
    )
    p.add_argument("--name", default="", help="a name to recognise the token by")
    add_json(p)
    p.set_defaults(handler=create)
    p = group.add_parser(
        "list", help="list the live Action Tokens a user holds or created (never the secrets)"
    )
    p.add_argument("email", help="the e-mail address of the holder or creator")
    add_json(p)
    p.set_defaults(handler=list_tokens)
    p = group.add_parser("revoke", help="revoke an Action Token in every serving process at once")
    p.add_argument("token_id", metavar="TOKEN_ID", help="the token's id (from `action-token list`)")
    add_json(p)
    p.set_defaults(handler=revoke)


def parse_grant(text: str) -> GrantSpec:
    parts = text.split()
    if len(parts) < 2:
        raise CommandError(f"--grant {text!r}: expected 'METHOD ROUTE[ NAME=VALUE ...]'")
    params: dict[str, str] = {}
    for part in parts[2:]:
        name, sep, value = part.partition("=")
        if not sep or not name or name in params:
            raise CommandError(f"--grant {text!r}: path parameters are NAME=VALUE, once each")
        params[name] = value
    return parts[0], parts[1], params


def _check_bounds(args: argparse.Namespace) -> None:
    """The API's rules (c42.validation): the CLI accepts what POST /action-tokens/ accepts."""
    if len(args.grant) > ACTION_TOKEN_MAX_GRANTS:
        raise CommandError(f"at most {ACTION_TOKEN_MAX_GRANTS} grants")
    check_bounds(args.expires_in, ACTION_TOKEN_EXPIRES_IN, "--expires-in", " seconds")
    check_bounds(args.max_uses, ACTION_TOKEN_MAX_USES, "--max-uses")
    check_name(args.name, "--name", required=False)


def _endpoint_table() -> endpoint_table.EndpointTable:
    from c42.app import create_app  # the real app's routes, nothing served

    app = create_app()
    try:
        return endpoint_table.EndpointTable.from_routes(app.router.routes)
    finally:
        app.state.db.dispose()


def create(args: argparse.Namespace) -> int:
    _check_bounds(args)
    specs = [parse_grant(text) for text in args.grant]
    grants = _endpoint_table().grants(specs)
    with session() as s:
        user = accounts.get_user(s, args.email)
        issuing.check_holder(user)
        created = action_tokens.create(
            s,
            user_id=user.id,
            creator_id=user.id,
            grants=grants,
            name=args.name,
            expires_in=args.expires_in,
            max_uses=args.max_uses,
        )
        data: dict[str, Any] = {
            "id": created.row.id,
            "token": created.token,
            **serialize(created.row),
            "warning": SERVER_TOKEN_WARNING,
        }
    expiry = common.fmt_dt(created.row.expires_at) or "never"
    text = f"{created.token}\n(id {data['id']}; expires {expiry}; {SERVER_TOKEN_WARNING})"
    emit(data, args.json, text)
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        rows = [serialize(row) for row in credentials.live_action_tokens(s, user.id)]
    columns = ("id", "name", "user_id", "creator_id", "created", "last_used", "expires_at")
    emit_rows(rows, args.json, columns, "no live Action Tokens")
    return 0


def revoke(args: argparse.Namespace) -> int:
    return revoke_token(
        args,
        credentials.revoke_action_token,
        ActionToken,
        "admin.action_token_revoke",
        "Action Token",
    )
