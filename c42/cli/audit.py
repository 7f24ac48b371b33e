"""`c42 audit`: the audit log (SPEC §8), newest first; `--json` prints JSON lines."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from c42 import accounts, audit
from c42.cli.output import CommandError, Subcommands, session
from c42.emails import normalise_email

MAX_LIMIT = 10_000


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("audit", help="read the audit log, newest first")
    p.add_argument("--user", metavar="EMAIL", help="only records about this user's account")
    p.add_argument(
        "--type",
        metavar="T",
        action="append",
        default=[],
        help=f"only records of this type (repeatable): {', '.join(audit.ALL_TYPES)}, admin.*",
    )
    p.add_argument(
        "--since", metavar="ISO", help="only records at or after this time (ISO 8601, UTC)"
    )
    p.add_argument(
        "--limit",
        metavar="N",
        type=int,
        default=100,
        help=f"at most N records (1 to {MAX_LIMIT}; default 100)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=show)


def parse_since(text: str) -> datetime:
    """An ISO 8601 time; naive means UTC; stored times are naive UTC (c42.models.base)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--since: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def show(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CommandError(f"--limit must be between 1 and {MAX_LIMIT}")
    since = parse_since(args.since) if args.since else None
    types = [t for t in args.type if not t.endswith("*")]
    prefixes = [t[:-1] for t in args.type if t.endswith("*")]
    if len(prefixes) > 1 or (prefixes and types):
        raise CommandError("--type: give types, or one prefix ending in '*', not both")
    with session() as s:
        user_id = None
        if args.user:
            user = accounts.find_user(s, normalise_email(args.user))
            if user is None:
                raise CommandError(f"--user: no account for {args.user}")
            user_id = user.id
        filters = audit.Filters(
            user_id=user_id,
            types=types,
            type_prefix=prefixes[0] if prefixes else None,
            since=since,
            limit=args.limit,
        )
        records = [audit.as_json(row) for row in audit.search(s, filters)]
    for record in records:
        if args.json:
            print(json.dumps(record, sort_keys=False))
        else:
            print(_line(record))
    return 0


def _line(record: dict[str, object]) -> str:
    parts = [str(record["time"]), str(record["type"])]
    for name in ("user_id", "actor_id", "client_id", "service_id", "credential_id", "ip"):
        if record[name]:
            parts.append(f"{name.removesuffix('_id')}={record[name]}")
    if record["detail"]:
        parts.append(json.dumps(record["detail"], sort_keys=True))
    return "  ".join(parts)
