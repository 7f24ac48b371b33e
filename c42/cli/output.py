"""What every command shares: JSON on stdout with --json, readable lines otherwise; the
errors and their exit codes; the database session; evictions after a committed change; the
audit record of an operator's action."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from c42 import audit
from c42.auth.evictions import EvictionBus
from c42.db import Database
from c42.models import ActionToken, UserToken
from c42.settings import get_settings

USAGE_ERROR = 2  # the command line itself is wrong (argparse's own code for usage errors)
FAILED = 1  # a well-formed command that could not be done (not found, exists, refused)
JSON_HELP = "print JSON for machines instead of text"
# What `c42 <command>` parsers are added to; each command module's register() takes it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Row = TypeVar("Row")


class CommandError(Exception):
    """A value on the command line the command refuses (exit status 2)."""


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=JSON_HELP)


def add_switch(
    parser: argparse.ArgumentParser, flag: str, off_flag: str, on_help: str, off_help: str
) -> None:
    """`--x` / `--no-x`: True, False, or None (left as it is) in `args.<x>`."""
    dest = flag.removeprefix("--").replace("-", "_")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(flag, action="store_true", default=None, dest=dest, help=on_help)
    group.add_argument(off_flag, action="store_false", dest=dest, help=off_help)


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def emit_rows(
    rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str], empty: str
) -> None:
    """A list: a JSON array with --json, else one aligned line per row under a header."""
    if as_json:
        print(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        print(empty)
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print(
            "  ".join(
                value.ljust(width) for value, width in zip(line, widths, strict=True)
            ).rstrip()
        )


def emit_query(
    args: argparse.Namespace,
    query: Select[Row],
    describe: Callable[[Row], dict[str, Any]],
    columns: Sequence[str],
    empty: str,
) -> int:
    """`c42 <thing> list`: the rows `query` selects, each described, as emit_rows prints."""
    with session() as s:
        rows = [describe(row) for row in s.scalars(query)]
    emit_rows(rows, args.json, columns, empty)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


def publish_evictions(*messages: str) -> None:
    """After a committed change: every serving process drops what it cached (SPEC §7)."""
    EvictionBus(get_settings().redis_url).publish(*messages)


def revoke_token(
    args: argparse.Namespace,
    revoke: Callable[[Session, str], str],
    model: type[UserToken] | type[ActionToken],
    audit_type: str,
    label: str,
) -> int:
    """`c42 token|action-token revoke ID`: revoke, record the operator's action with the
    holder, and evict everywhere once committed."""
    with session() as s:
        eviction = revoke(s, args.token_id)
        holder = s.scalar(select(model.user_id).where(model.id == args.token_id))
        audit_action(s, audit_type, user_id=holder, credential_id=args.token_id)
    publish_evictions(eviction)  # committed: refused everywhere from now on
    emit({"id": args.token_id, "revoked": True}, args.json, f"revoked {label} {args.token_id}")
    return 0


@contextmanager
def session() -> Iterator[Session]:
    db = Database(get_settings().database_url)
    try:
        with db.session() as s:
            yield s
    finally:
        db.dispose()


def audit_action(s: Session, type: str, **fields: Any) -> None:
    """Record an operator's command (SPEC §8: `admin.*`, the console's type names) in the
    command's transaction. The actor is the operator at the machine's console, not a user:
    no actor_id, `via: "cli"` and the OS account that ran the command in the detail."""
    audit.record(s, type, context=audit.NO_CONTEXT, via="cli", os_user=_os_user(), **fields)


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment and no passwd entry
        return None
