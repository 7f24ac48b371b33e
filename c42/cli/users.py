"""`c42 user create|activate|deactivate|end-sessions`."""

from __future__ import annotations

import argparse

from c42 import accounts
from c42.auth import browser_sessions, evictions
from c42.cli.output import emit, publish_evictions, session


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("create", help="create a user")
    p.add_argument("email")
    p.add_argument("--password")
    p.add_argument("--first-name", default="")
    p.add_argument("--last-name", default="")
    p.add_argument("--inactive", action="store_true")
    p.add_argument("--staff", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=create)
    for action, active in (("activate", True), ("deactivate", False)):
        p = group.add_parser(action, help=f"{action} a user")
        p.add_argument("email")
        p.set_defaults(handler=lambda args, active=active: set_active(args, active))
    p = group.add_parser("end-sessions", help="log a user out of every browser")
    p.add_argument("email")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=end_sessions)


def create(args: argparse.Namespace) -> int:
    with session() as s:
        user = accounts.create_user(
            s,
            args.email,
            args.password,
            first_name=args.first_name,
            last_name=args.last_name,
            active=not args.inactive,
            staff=args.staff,
        )
        data = {"id": user.id, "email": user.email, "is_active": user.is_active}
    emit(data, args.json, f"created user {data['email']} ({data['id']})")
    return 0


def set_active(args: argparse.Namespace, active: bool) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        accounts.set_active(s, user, active)
        email, user_id = user.email, user.id
    publish_evictions(evictions.user(user_id))  # committed: no process keeps the old state
    print(f"{'activated' if active else 'deactivated'} {email}")
    return 0


def end_sessions(args: argparse.Namespace) -> int:
    """An operator's "end sessions": every browser of the account must log in again."""
    with session() as s:
        user = accounts.get_user(s, args.email)
        ended = browser_sessions.end_sessions(s, user.id)
        email = user.email
    emit(
        {"email": email, "ended": ended}, args.json, f"ended {ended} browser session(s) of {email}"
    )
    return 0
