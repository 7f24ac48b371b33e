"""`c42 demo`: seed (idempotently) and print the demo credentials."""

from __future__ import annotations

import argparse
import json

from c42 import demo
from c42.cli.output import Subcommands, add_json, session
from c42.settings import get_settings


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("demo", help="seed the demo data set and print its credentials")
    add_json(p)
    p.add_argument("--if-empty", action="store_true", help="seed only into an empty database")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    with session() as s:
        if args.if_empty and not demo.is_empty(s) and demo.find_demo_user(s) is None:
            print("database is not empty and has no demo user; not seeding")
            return 0
        data = demo.seed(s, settings.resolved_secret_key())
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    user = data["user"]
    print("C42 demo")
    print(f"  user:     {user['email']} / {user['password']}")
    print(f"  friend:   {data['friend']['email']} / {data['friend']['password']}")
    print(f"  token:    {user['token']}   (a User Token: server-side use only)")
    print(f"  service:  {data['service']['name']} ({data['service']['id']})")
    for name, app in data["apps"].items():
        secret = app.get("client_secret")
        line = f"  app {name}: client_id={app['client_id']}"
        print(line + (f" client_secret={secret}" if secret else " (public)"))
    curl = f"curl -H 'Authorization: Token {user['token']}' {settings.issuer}/api/v2/events/"
    print(f"  try:      {curl}")
    return 0
