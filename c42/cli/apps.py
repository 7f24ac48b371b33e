"""`c42 app create`: register an OAuth app under a service (SPEC §3, §5.3)."""

from __future__ import annotations

import argparse

from c42.auth.oauth import apps
from c42.auth.subject import SERVICE_SCOPES
from c42.cli.output import emit, session
from c42.settings import get_settings

SECRET_NOTE = "The client secret is shown only now; store it on your server, never in an app."


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("app", help="manage OAuth apps").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("create", help="register an OAuth app (client) under a service")
    p.add_argument("--service", required=True, metavar="SERVICE_ID")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--redirect-uri", required=True, action="append", dest="redirect_uris", metavar="URI"
    )
    p.add_argument("--public", action="store_true", help="no client secret (native/JS app)")
    p.add_argument("--silent", action="store_true", help="may use silent OAuth (confidential)")
    p.add_argument(
        "--cors-origin", action="append", default=[], dest="cors_origins", metavar="ORIGIN"
    )
    p.add_argument("--require-pkce", action="store_true", help="PKCE even when confidential")
    p.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        choices=sorted(SERVICE_SCOPES),
        help="scopes the app may ask for (default: all)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=create)


def create(args: argparse.Namespace) -> int:
    spec = apps.AppSpec(
        service_id=args.service,
        name=args.name,
        redirect_uris=args.redirect_uris,
        public=args.public,
        silent=args.silent,
        require_pkce=args.require_pkce,
        cors_origins=args.cors_origins,
        scopes=args.scopes or sorted(SERVICE_SCOPES),
    )
    server_key = get_settings().resolved_secret_key()
    with session() as s:
        created = apps.create(s, server_key, spec)
    data = {
        "client_id": created.client_id,
        "client_secret": created.client_secret,
        "service_id": created.service_id,
    }
    text = f"client_id:     {created.client_id}\n"
    if created.client_secret:
        text += f"client_secret: {created.client_secret}\n({SECRET_NOTE})"
    else:
        text += "public app: no client secret; use PKCE (S256)"
    emit(data, args.json, text)
    return 0
