"""The `c42` command: one sub-module per command group, each with `register(subparsers)`.

Exit status: 0 done; 2 a usage error (argparse's, or a value the rules refuse: the same
rules as the API, `c42.validation`); 1 a command that could not be done (not found, already
exists, refused). The message goes to stderr as one `c42: error:` line, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy.exc import SQLAlchemyError

from c42.cli import action_tokens, apps, audit, demo, keys, purge, serve, services, tokens, users
from c42.cli.output import FAILED, USAGE_ERROR, CommandError
from c42.emails import InvalidEmail
from c42.errors import APIError, InvalidRequest
from c42.settings import ConfigurationError

GROUPS = [serve, demo, users, tokens, services, action_tokens, apps, purge, keys, audit]


def _version() -> str:
    try:
        return version("c42")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c42", description="C42 Platform command line")
    parser.add_argument(
        "--version", action="version", version=f"c42 {_version()}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
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
