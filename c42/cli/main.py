"""The `c42` command: one sub-module per command group, each with `register(subparsers)`.

It starts fast (`c42 --version`, `c42 --help`): the parser names every command from the table
below and imports only the chosen command's module, the one that pulls in the database, the
app and their libraries (tests/cli/test_startup.py).

Exit status: 0 done; 2 a usage error (argparse's, or a value the rules refuse: the same
rules as the API, `c42.validation`); 1 a command that could not be done (not found, already
exists, refused). The message goes to stderr as one `c42: error:` line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from c42.cli.output import Subcommands


class Command(NamedTuple):
    module: str  # under c42.cli; its register(subparsers) adds the command's parser
    help: str  # what `c42 --help` lists; the same text as the module's own (a test checks)


# Every top-level command, in `c42 --help` order.
COMMANDS: dict[str, Command] = {
    "migrate": Command("serve", "create or upgrade the database schema"),
    "serve": Command("serve", "serve the API and pages"),
    "demo": Command("demo", "seed the demo data set and print its credentials"),
    "user": Command("users", "manage users"),
    "token": Command("tokens", "manage User Tokens"),
    "service": Command("services", "manage services"),
    "action-token": Command("action_tokens", "manage Action Tokens"),
    "app": Command("apps", "manage OAuth apps"),
    "purge": Command(
        "purge",
        "delete expired and revoked credentials and old audit records past their retention periods",
    ),
    "keys": Command("keys", "manage the OpenID Connect signing keys"),
    "audit": Command("audit", "read the audit log, newest first"),
}


def _version() -> str:
    try:
        return version("c42")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        return "unknown"


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command word: the first argument not an option (the top-level options -h and
    --version take no value); None when there is none or it is not a command."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(
    command: str | None = None, *, every_command: bool = False
) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported and registers its arguments in full,
    the others are listed by name and help. `every_command`: every module's in full (tests
    that walk every option)."""
    parser = argparse.ArgumentParser(prog="c42", description="C42 Platform command line")
    parser.add_argument(
        "--version", action="version", version=f"c42 {_version()}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = COMMANDS[command].module if command in COMMANDS else None
    for name, spec in COMMANDS.items():
        if name in subparsers.choices:  # registered with another command of its module
            continue
        if every_command or spec.module == chosen:
            register_group(spec.module, subparsers)
        else:
            subparsers.add_parser(name, help=spec.help)
    return parser


def register_group(module: str, subparsers: Subcommands) -> None:
    """Import `c42.cli.<module>` and let it add its commands' parsers."""
    group = importlib.import_module(f"c42.cli.{module}")
    register = cast("Callable[[Subcommands], None]", group.register)
    register(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(chosen_command(arguments)).parse_args(arguments)
    # Imported here, not above: `c42 --version` and `--help` never need them.
    from sqlalchemy.exc import SQLAlchemyError

    from c42.cli.output import FAILED, USAGE_ERROR, CommandError
    from c42.emails import InvalidEmail
    from c42.errors import APIError, InvalidRequest
    from c42.settings import ConfigurationError

    try:
        result = args.handler(args)
    except (CommandError, InvalidRequest, InvalidEmail, ConfigurationError) as exc:
        return _fail(str(exc), USAGE_ERROR)
    except APIError as exc:  # not found, conflict, forbidden
        return _fail(str(exc), FAILED)
    except SQLAlchemyError as exc:  # never a traceback (nor a connection string)
        return _fail(f"the database refused the command ({type(exc).__name__})", FAILED)
    return int(result or 0)


def _fail(message: str, code: int) -> int:
    print(f"c42: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
