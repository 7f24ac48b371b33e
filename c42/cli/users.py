"""`c42 user create|list|show|activate|deactivate|end-sessions|revoke-credentials`."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select

from c42 import accounts
from c42.auth import browser_sessions, credentials, evictions
from c42.cli.output import (
    Subcommands,
    add_json,
    audit_action,
    emit,
    emit_query,
    publish_evictions,
    session,
)
from c42.models import User
from c42.resources.common import fmt_dt

EMAIL_HELP = "the user's e-mail address"


def register(subparsers: Subcommands) -> None:
    group = subparsers.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = group.add_parser("create", help="create a user")
    p.add_argument("email", help=EMAIL_HELP)
    p.add_argument("--password", help="the password (at least 8 characters); none: no login")
    p.add_argument("--first-name", default="", help="first name (at most 150 characters)")
    p.add_argument("--last-name", default="", help="last name (at most 150 characters)")
    p.add_argument("--inactive", action="store_true", help="create the account inactive")
    p.add_argument("--staff", action="store_true", help="a staff user (the admin console)")
    add_json(p)
    p.set_defaults(handler=create)
    p = group.add_parser("list", help="list users (real accounts, not sandbox users)")
    p.add_argument(
        "--email-contains", metavar="S", help="only addresses containing S (case-insensitive)"
    )
    add_json(p)
    p.set_defaults(handler=list_users)
    p = group.add_parser("show", help="print a user and their live credentials")
    p.add_argument("email", help=EMAIL_HELP)
    add_json(p)
    p.set_defaults(handler=show)
    for action, active in (("activate", True), ("deactivate", False)):
        p = group.add_parser(action, help=f"{action} a user")
        p.add_argument("email", help=EMAIL_HELP)
        add_json(p)
        p.set_defaults(handler=lambda args, active=active: set_active(args, active))
    p = group.add_parser("staff", help="give a user the admin console (--off: take it away)")
    p.add_argument("email", help=EMAIL_HELP)
    p.add_argument("--off", action="store_true", help="take staff rights away instead")
    add_json(p)
    p.set_defaults(handler=set_staff)
    p = group.add_parser("end-sessions", help="log a user out of every browser")
    p.add_argument("email", help=EMAIL_HELP)
    add_json(p)
    p.set_defaults(handler=end_sessions)
    p = group.add_parser(
        "revoke-credentials",
        help="revoke every User Token, Action Token and OAuth token and end every browser "
        "session of a user, in every serving process at once",
    )
    p.add_argument("email", help=EMAIL_HELP)
    add_json(p)
    p.set_defaults(handler=revoke_credentials)


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


def describe(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "email_verified": user.email_verified,
        "is_staff": user.is_staff,
        "has_password": user.password_hash is not None,
        "created": fmt_dt(user.created),
    }


def list_users(args: argparse.Namespace) -> int:
    query = select(User).where(User.sandbox_service_id.is_(None)).order_by(User.email)
    if args.email_contains:
        needle = args.email_contains.strip().lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(User.email).like(f"%{escaped}%", escape="\\"))
    columns = ("email", "id", "is_active", "is_staff", "created")
    return emit_query(args, query, describe, columns, "no users")


def show(args: argparse.Namespace) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        data = describe(user)
        data["user_tokens"] = [
            {"id": t.id, "name": t.name, "created": fmt_dt(t.created)}
            for t in credentials.live_user_tokens(s, user.id)
        ]
        data["action_tokens"] = [
            {"id": t.id, "name": t.name, "holder_id": t.user_id, "created": fmt_dt(t.created)}
            for t in credentials.live_action_tokens(s, user.id)
        ]
    lines = [f"{name + ':':<16}{value}" for name, value in data.items() if name[-7:] != "_tokens"]
    lines.append(f"{'user tokens:':<16}{' '.join(t['id'] for t in data['user_tokens']) or '-'}")
    lines.append(f"{'action tokens:':<16}{' '.join(t['id'] for t in data['action_tokens']) or '-'}")
    emit(data, args.json, "\n".join(lines))
    return 0


def set_active(args: argparse.Namespace, active: bool) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        accounts.set_active(s, user, active)
        audit_action(s, f"admin.user_{'activate' if active else 'deactivate'}", user_id=user.id)
        email, user_id = user.email, user.id
    publish_evictions(evictions.user(user_id))  # committed: no process keeps the old state
    text = f"{'activated' if active else 'deactivated'} {email}"
    emit({"email": email, "id": user_id, "is_active": active}, args.json, text)
    return 0


def set_staff(args: argparse.Namespace) -> int:
    """SPEC §8: staff users reach /admin/; audited as an operator's command."""
    staff = not args.off
    with session() as s:
        user = accounts.get_user(s, args.email)
        accounts.set_staff(s, user, staff)
        audit_action(s, "admin.user_staff", user_id=user.id, is_staff=staff)
        email, user_id = user.email, user.id
    text = f"{email} is {'now' if staff else 'no longer'} staff"
    emit({"email": email, "id": user_id, "is_staff": staff}, args.json, text)
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


def revoke_credentials(args: argparse.Namespace) -> int:
    with session() as s:
        user = accounts.get_user(s, args.email)
        revoked = credentials.revoke_all(s, user.id)
        # The console's "revoke all" (admin.user_revoke_all), with the counts.
        audit_action(s, "admin.user_revoke_all", user_id=user.id, **revoked.counts())
        email = user.email
    publish_evictions(*revoked.evictions)  # committed: every process drops them at once
    counts = revoked.counts()
    text = f"revoked for {email}: " + ", ".join(
        f"{n} {k.replace('_', ' ')}" for k, n in counts.items()
    )
    emit({"email": email, **counts}, args.json, text)
    return 0
