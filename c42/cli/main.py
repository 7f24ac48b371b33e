"""The `c42` command: one sub-module per command group, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from c42.cli import action_tokens, apps, demo, keys, purge, serve, services, tokens, users
from c42.cli.output import CommandError
from c42.emails import InvalidEmail
from c42.errors import APIError
from c42.settings import ConfigurationError

GROUPS = [serve, demo, users, tokens, services, action_tokens, apps, purge, keys]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c42", description="C42 Platform command line")
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
    except (CommandError, APIError, InvalidEmail, ConfigurationError) as exc:
        print(f"c42: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
