"""`c42 action-token create EMAIL --grant 'METHOD ROUTE[ NAME=VALUE ...]' ...` (SPEC §5.2).

The operator creates a token for the user themselves (creator = holder, no service
restriction). Grants are validated against the app's real routes, exactly as the API does.
"""

from __future__ import annotations

import argparse
from typing import Any

from c42 import accounts
from c42.auth.action_tokens import issuing
from c42.auth.action_tokens import repository as action_tokens
from c42.cli.output import CommandError, emit, session
from c42.resources import common
from c42.resources.tokens import endpoint_table
from c42.resources.tokens.action_tokens import (
    MAX_EXPIRES_IN,
    MAX_GRANTS,
    MAX_USES,
    MIN_EXPIRES_IN,
    serialize,
)
from c42.resources.tokens.user_tokens import SERVER_TOKEN_WARNING

GrantSpec = tuple[str, str, dict[str, str]]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("action-token", help="manage Action Tokens").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("create", help="create an Action Token for a user (shown once)")
    p.add_argument("email")
    p.add_argument(
        "--grant",
        action="append",
        required=True,
        metavar="'METHOD ROUTE[ NAME=VALUE]'",
        help="e.g. 'PATCH /api/v2/event-subscriptions/{id}/ id=<32 hex>' (repeatable)",
    )
    p.add_argument("--expires-in", type=int, metavar="SECONDS")
    p.add_argument("--max-uses", type=int, metavar="N")
    p.add_argument("--name", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=create)


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
    if len(args.grant) > MAX_GRANTS:
        raise CommandError(f"at most {MAX_GRANTS} grants")
    if args.expires_in is not None and not MIN_EXPIRES_IN <= args.expires_in <= MAX_EXPIRES_IN:
        raise CommandError(f"--expires-in must be {MIN_EXPIRES_IN}..{MAX_EXPIRES_IN} seconds")
    if args.max_uses is not None and not 1 <= args.max_uses <= MAX_USES:
        raise CommandError(f"--max-uses must be 1..{MAX_USES}")
    if len(args.name) > 200:
        raise CommandError("--name is limited to 200 characters")


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
