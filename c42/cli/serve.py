"""`c42 migrate` and `c42 serve`."""

from __future__ import annotations

import argparse
import copy
import logging
import os
from typing import Any

import uvicorn

from c42 import migrate as migrations
from c42.settings import get_settings

WORKER_HEALTHCHECK_SECONDS = 30


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(handler=run_migrate)
    p = subparsers.add_parser("serve", help="serve the API and pages")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8042)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(handler=run_serve)


def run_migrate(_args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    print(f"migrated {_display_url(settings.database_url)}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.resolved_secret_key()  # create var/secret_key once, before workers race for it
    if args.no_access_log:
        os.environ["C42_ACCESS_LOG"] = "false"
    print(f"C42 Platform on http://{args.host}:{args.port}/ ({args.workers} worker(s))", flush=True)
    uvicorn.run(
        "c42.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,  # ours, redacted, is in c42.middleware
        log_level="info",
        proxy_headers=False,
        log_config=_log_config(),
        # A spawned worker answers the supervisor's health ping only after importing the
        # whole CLI (several seconds on a busy host); uvicorn's default 5 s killed every
        # worker in a loop there, so allow a slow start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    logging.shutdown()
    return 0


def _log_config() -> dict[str, Any]:
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["c42"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _display_url(url: str) -> str:
    """Never print a database password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url
