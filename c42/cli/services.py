"""`c42 service create|subscribe`."""

from __future__ import annotations

import argparse

from c42 import accounts
from c42.cli.output import Subcommands, add_json, emit, session


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser("service", help="manage services").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = group.add_parser("create", help="create a service")
    p.add_argument("name", help="the service's name (1..200 characters)")
    p.add_argument("--admin", metavar="EMAIL", help="make this user the service's admin")
    add_json(p)
    p.set_defaults(handler=create)
    p = group.add_parser("subscribe", help="subscribe a user to a service")
    p.add_argument("service_id", help="the service's id")
    p.add_argument("email", help="the user's e-mail address")
    p.add_argument("--inactive", action="store_true", help="subscribe, but inactive")
    p.add_argument("--admin", action="store_true", help="make the user an admin of the service")
    add_json(p)
    p.set_defaults(handler=subscribe)


def create(args: argparse.Namespace) -> int:
    with session() as s:
        admin = accounts.get_user(s, args.admin) if args.admin else None
        service = accounts.create_service(s, args.name, admin)
        data = {"id": service.id, "name": service.name}
    emit(data, args.json, f"created service {data['name']} ({data['id']})")
    return 0


def subscribe(args: argparse.Namespace) -> int:
    with session() as s:
        accounts.get_service(s, args.service_id)
        user = accounts.get_user(s, args.email)
        accounts.subscribe(
            s, args.service_id, user, active=not args.inactive, admin_role=args.admin
        )
        email = user.email
    state = "inactive" if args.inactive else "active"
    data = {"service_id": args.service_id, "email": email, "is_active": not args.inactive}
    emit(data, args.json, f"subscribed {email} to {args.service_id} ({state})")
    return 0
