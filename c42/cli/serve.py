"""`c42 migrate` and `c42 serve`."""

from __future__ import annotations

import argparse
import copy
import ctypes
import ipaddress
import logging
import os
import signal
from typing import Any

import uvicorn

from c42 import migrate as migrations
from c42.cli.output import CommandError, Subcommands, add_json, emit
from c42.ops import json_logs, multiprocess
from c42.settings import get_settings

WORKER_HEALTHCHECK_SECONDS = 30
WORKER_FACTORY = "c42.worker:create_worker_app"  # the app, then its garbage collector settled
# glibc's malloc gives a thread that finds the main arena busy an arena of its own (up to 8 per
# core), and what one arena frees is never reused by another: under load a worker's threads
# (the threadpool's database sessions) kept 6-9 MB more resident. Python's own allocator
# serves small objects under the GIL anyway (issue 12: a worker's peak memory, bench/RESULTS.md).
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's <malloc.h>
GRACEFUL_SHUTDOWN_SECONDS = 10  # SPEC §7: in-flight requests get this long after SIGTERM


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("migrate", help="create or upgrade the database schema")
    add_json(p)
    p.set_defaults(handler=run_migrate)
    p = subparsers.add_parser("serve", help="serve the API and pages")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8042, help="port to listen on (8042)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.add_argument(
        "--proxy-headers",
        action="store_true",
        help="behind a reverse proxy: take the client address and scheme from its "
        "X-Forwarded-For and X-Forwarded-Proto (only from --forwarded-allow-ips)",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        metavar="LIST",
        help="comma-separated proxy addresses or networks trusted with --proxy-headers "
        "(default 127.0.0.1,::1; '*' trusts every peer)",
    )
    p.set_defaults(handler=run_serve)


def run_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    shown = _display_url(settings.database_url)
    emit({"migrated": shown}, args.json, f"migrated {shown}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port}: expected 1-65535")
    if args.workers < 1:
        raise CommandError(f"--workers {args.workers}: expected at least 1")
    trusted = _trusted_proxies(args)
    address = _http_address(args.host, args.port)
    if not os.environ.get("C42_ISSUER"):
        # SPEC §7: without C42_ISSUER the issuer is this server's own address (never a stale
        # default); set in the environment, it reaches every worker process too.
        os.environ["C42_ISSUER"] = address
    if args.no_access_log:
        os.environ["C42_ACCESS_LOG"] = "false"
    get_settings.cache_clear()
    settings = get_settings()  # ConfigurationError: one line, exit 2 (c42.cli.main)
    settings.resolved_secret_key()  # create var/secret_key once, before workers race for it
    # uvicorn re-raises the signal it stopped on once shut down, so that the default handler
    # ends the process; SPEC §7: after SIGTERM's graceful shutdown the exit status is 0.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    multiprocess.prepare(args.workers)  # metrics of all workers: before any worker starts
    limit_malloc_arenas()  # before any worker starts
    print(f"C42 Platform on {address}/ ({args.workers} worker(s))", flush=True)
    uvicorn.run(
        WORKER_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,  # ours, redacted, is in c42.middleware
        log_level="info",
        # uvicorn's ProxyHeadersMiddleware: from trusted peers only, X-Forwarded-For (the
        # nearest untrusted address) becomes the client of rate limits, logs and sessions,
        # and X-Forwarded-Proto the scheme (Secure cookies, absolute redirects).
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_config=_log_config(settings.log_format),
        # A spawned worker answers the supervisor's health ping only after importing the
        # whole CLI (several seconds on a busy host); uvicorn's default 5 s killed every
        # worker in a loop there, so allow a slow start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    logging.shutdown()
    return 0


def limit_malloc_arenas() -> None:
    """MALLOC_ARENA_MAX for the workers (glibc reads it when a process starts; uvicorn spawns
    them after this) and for this process, which serves when --workers is 1. An operator's
    own MALLOC_ARENA_MAX is left as it is."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(MALLOC_ARENAS)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc; elsewhere: the variable only
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _http_address(host: str, port: int) -> str:
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal (RFC 3986 §3.2.2)
    return f"http://{host}:{port}"


def _trusted_proxies(args: argparse.Namespace) -> str | None:
    """The peers whose forwarded headers count, or None without --proxy-headers. Checked
    here because uvicorn silently takes a mistyped address for a name that never matches."""
    if not args.proxy_headers:
        if args.forwarded_allow_ips is not None:
            raise CommandError("--forwarded-allow-ips needs --proxy-headers")
        return None
    listed = args.forwarded_allow_ips or "127.0.0.1,::1"
    items = [item.strip() for item in listed.split(",")]
    if items == ["*"]:
        return "*"
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise CommandError(
                f"--forwarded-allow-ips: {item!r} is not an IP address or network"
            ) from None
    return ",".join(items)


def _log_config(log_format: str) -> dict[str, Any]:
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["c42"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return json_logs.uvicorn_log_config(config, log_format)  # C42_LOG_FORMAT


def _display_url(url: str) -> str:
    """Never print a database password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url
