"""`c42 app create|update|show`: OAuth apps (clients) under a service (SPEC §3, §5.3, §8)."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from c42.auth import evictions, scopes
from c42.auth.oauth import apps
from c42.cli.output import (
    Subcommands,
    add_json,
    add_switch,
    audit_action,
    emit,
    emit_query,
    publish_evictions,
    session,
)
from c42.errors import NotFound
from c42.models import OAuthApp
from c42.settings import get_settings

CLIENT_ID_HELP = "the app's client_id"
SECRET_NOTE = "The client secret is shown only now; store it on your server, never in an app."


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser(
        "app",
        help="manage OAuth apps",
        description="OAuth apps (clients) under a service. Per-app settings on create and "
        "update: --public, --silent, --require-pkce, --device (RFC 8628 device grant), "
        "--require-par (RFC 9126), --require-dpop (RFC 9449: tokens only with a DPoP proof, "
        "bound to the app's key; see docs/device-and-dpop.md).",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = group.add_parser("create", help="register an OAuth app (client) under a service")
    p.add_argument("--service", required=True, metavar="SERVICE_ID", help="the app's service")
    p.add_argument("--name", required=True, help="the name shown on the consent page")
    p.add_argument(
        "--redirect-uri",
        required=True,
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="a registered redirect URI (repeat for several)",
    )
    p.add_argument("--public", action="store_true", help="no client secret (native/JS app)")
    p.add_argument("--silent", action="store_true", help="may use silent OAuth (confidential)")
    p.add_argument(
        "--origin",
        "--cors-origin",
        action="append",
        default=[],
        dest="cors_origins",
        metavar="ORIGIN",
        help="web origin (https://host[:port]) of a public JavaScript app: CORS for it",
    )
    p.add_argument("--require-pkce", action="store_true", help="PKCE even when confidential")
    p.add_argument(
        "--device",
        action="store_true",
        help="may use the device authorization grant (RFC 8628: TVs, command lines)",
    )
    p.add_argument(
        "--require-par",
        action="store_true",
        help="authorization requests only pushed first (RFC 9126 PAR)",
    )
    p.add_argument(
        "--require-dpop",
        action="store_true",
        help="tokens only with a DPoP proof, bound to the app's key (RFC 9449; mobile apps)",
    )
    p.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        dest="post_logout_redirect_uris",
        metavar="URI",
        help="where OpenID Connect logout may return to, exact match (repeat for several)",
    )
    p.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        choices=sorted(scopes.service_scopes()),
        help="scopes the app may ask for (default: the service scopes)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(handler=create)

    p = group.add_parser("update", help="change an app; options not given stay as they are")
    p.add_argument("client_id", metavar="CLIENT_ID", help=CLIENT_ID_HELP)
    p.add_argument("--name", help="the name shown on the consent page")
    p.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="replaces the registered redirect URIs (repeat for several)",
    )
    p.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        dest="post_logout_redirect_uris",
        metavar="URI",
        help="replaces the OpenID Connect post-logout redirect URIs (repeat for several)",
    )
    origins = p.add_mutually_exclusive_group()
    origins.add_argument(
        "--origin",
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="replaces the app's web origins (repeat for several)",
    )
    origins.add_argument(
        "--no-origins", action="store_true", help="remove every web origin (no more CORS)"
    )
    add_switch(
        p,
        "--silent",
        "--no-silent",
        "may use silent OAuth (confidential apps)",
        "may not use silent OAuth",
    )
    add_switch(
        p,
        "--require-pkce",
        "--no-require-pkce",
        "require PKCE even from a confidential app",
        "PKCE optional for a confidential app (public apps always use it)",
    )
    add_switch(
        p,
        "--device",
        "--no-device",
        "may use the device authorization grant (RFC 8628)",
        "may not use the device authorization grant",
    )
    add_switch(
        p,
        "--require-par",
        "--no-require-par",
        "authorization requests only pushed first (RFC 9126 PAR)",
        "plain authorization requests accepted too",
    )
    add_switch(
        p,
        "--require-dpop",
        "--no-require-dpop",
        "tokens only with a DPoP proof, bound to the app's key (RFC 9449)",
        "DPoP optional: without a proof the app gets Bearer tokens",
    )
    p.add_argument("--json", action="store_true", help="print the app as a JSON object")
    p.set_defaults(handler=update)

    for action, helptext in (
        ("disable", "refuse the app everywhere: no authorization, tokens refused, no CORS"),
        ("enable", "accept a disabled app again"),
    ):
        p = group.add_parser(action, help=helptext)
        p.add_argument("client_id", metavar="CLIENT_ID", help=CLIENT_ID_HELP)
        p.add_argument("--json", action="store_true", help="print the app as a JSON object")
        p.set_defaults(handler=disable if action == "disable" else enable)

    p = group.add_parser("show", help="print an app's registration (never its secret)")
    p.add_argument("client_id", metavar="CLIENT_ID", help=CLIENT_ID_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(handler=show)

    p = group.add_parser("list", help="list the registered apps (never their secrets)")
    p.add_argument("--service", metavar="SERVICE_ID", help="only the apps of this service")
    add_json(p)
    p.set_defaults(handler=list_apps)

    p = group.add_parser(
        "rotate-secret",
        help="give a confidential app a new client secret (shown once); the old one stops "
        "working at once",
    )
    p.add_argument("client_id", metavar="CLIENT_ID", help=CLIENT_ID_HELP)
    add_json(p)
    p.set_defaults(handler=rotate_secret)


def create(args: argparse.Namespace) -> int:
    spec = apps.AppSpec(
        service_id=args.service,
        name=args.name,
        redirect_uris=args.redirect_uris,
        public=args.public,
        silent=args.silent,
        require_pkce=args.require_pkce,
        cors_origins=args.cors_origins,
        device=args.device,
        require_par=args.require_par,
        require_dpop=args.require_dpop,
        post_logout_redirect_uris=args.post_logout_redirect_uris,
        scopes=args.scopes or sorted(scopes.service_scopes()),
    )
    server_key = get_settings().resolved_secret_key()
    with session() as s:
        created = apps.create(s, server_key, spec)
        audit_action(
            s,
            "admin.app_create",
            client_id=created.client_id,
            service_id=created.service_id,
            public=spec.public,
        )
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


def update(args: argparse.Namespace) -> int:
    changes = apps.AppChanges(
        name=args.name,
        redirect_uris=args.redirect_uris,
        cors_origins=[] if args.no_origins else args.cors_origins,
        silent=args.silent,
        require_pkce=args.require_pkce,
        post_logout_redirect_uris=args.post_logout_redirect_uris,
        device=args.device,
        require_par=args.require_par,
        require_dpop=args.require_dpop,
    )
    with session() as s:
        app = apps.update(s, args.client_id, changes)
        audit_action(s, "admin.app_update", **apps.update_record(app))
        data = _describe(app)
    publish_evictions(evictions.apps())  # origins of cached tokens, CORS: everywhere at once
    emit(data, args.json, _text(data))
    return 0


def disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    with session() as s:
        app = apps.set_disabled(s, args.client_id, disabled)
        action = "disable" if disabled else "enable"
        audit_action(s, f"admin.app_{action}", client_id=app.client_id, service_id=app.service_id)
        data = _describe(app)
    publish_evictions(evictions.apps())  # a disabled app's tokens: refused everywhere at once
    emit(data, args.json, _text(data))
    return 0


def show(args: argparse.Namespace) -> int:
    with session() as s:
        app = s.scalar(select(OAuthApp).where(OAuthApp.client_id == args.client_id))
        if app is None:
            raise NotFound(f"No app with client_id {args.client_id}.")
        data = _describe(app)
    emit(data, args.json, _text(data))
    return 0


def list_apps(args: argparse.Namespace) -> int:
    query = select(OAuthApp).order_by(OAuthApp.service_id, OAuthApp.name, OAuthApp.client_id)
    if args.service is not None:
        query = query.where(OAuthApp.service_id == args.service)
    columns = ("client_id", "name", "service_id", "public", "disabled")
    return emit_query(args, query, _describe, columns, "no apps")


def rotate_secret(args: argparse.Namespace) -> int:
    server_key = get_settings().resolved_secret_key()
    with session() as s:
        app, secret = apps.rotate_secret(s, server_key, args.client_id)
        client_id = app.client_id
        # The fact of the rotation, never the secret (SPEC §8).
        audit_action(s, "admin.app_rotate_secret", client_id=client_id, service_id=app.service_id)
    publish_evictions(evictions.apps())  # committed; nothing caches the secret, but apps changed
    data = {"client_id": client_id, "client_secret": secret}
    emit(data, args.json, f"client_id:     {client_id}\nclient_secret: {secret}\n({SECRET_NOTE})")
    return 0


def _describe(app: OAuthApp) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "service_id": app.service_id,
        "name": app.name,
        "public": app.is_public,
        "redirect_uris": list(app.redirect_uris),
        "origins": list(app.cors_origins or ()),
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris or ()),
        "silent": app.allow_silent,
        "require_pkce": app.require_pkce,
        "device": app.allow_device,
        "require_par": app.require_par,
        "require_dpop": app.require_dpop,
        "scopes": sorted(scopes.parse(app.allowed_scopes)),
        "created": app.created.isoformat(),
        "disabled": app.disabled_at is not None,
    }


def _text(data: dict[str, Any]) -> str:
    return "\n".join(
        f"{name + ':':<15}{' '.join(value) if isinstance(value, list) else value}"
        for name, value in data.items()
    )
