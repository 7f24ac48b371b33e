"""Printing for the CLI: JSON on stdout with --json, readable lines otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from c42.auth.evictions import EvictionBus
from c42.db import Database
from c42.settings import get_settings


class CommandError(Exception):
    pass


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def publish_evictions(*messages: str) -> None:
    """After a committed change: every serving process drops what it cached (SPEC §7)."""
    EvictionBus(get_settings().redis_url).publish(*messages)


@contextmanager
def session() -> Iterator[Session]:
    db = Database(get_settings().database_url)
    try:
        with db.session() as s:
            yield s
    finally:
        db.dispose()
