"""OAuth credentials of the benchmark, created through the provider's own code (never faked).

- `seed_credentials`: a confidential app under the benchmark service and a `service.read`
  access token of the benchmark user (for `events_list_bearer`).
- `refresh_bodies`: a fresh pool of refresh tokens, one per request of one wrk run of
  `oauth_token_refresh` (refresh tokens rotate and a reused one revokes its family, so no body
  can be sent twice). The pool is spread over the users, at most `POOL_PER_USER` each, below
  the per-(app, user) limit of live refresh tokens, so rotation never pushes a pooled token
  out; earlier pools are revoked first.
- The app's client secret is stored as a digest keyed by the server key, and the benchmark
  server gets a fresh key per process: `server_key()` picks it (exported as
  `C42_BENCH_SECRET_KEY`, which bench/server.py hands to `c42 serve`) and `rekey` stores the
  digest under it.
"""

from __future__ import annotations

import base64
import os
import secrets as random_secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from bench.targets import targets
from c42.auth import secrets
from c42.auth.oauth import apps
from c42.db import Database
from c42.models import OAuthApp, OAuthToken, User, new_id, utcnow

APP_NAME = "Bench web app"
REDIRECT_URI = "https://bench.c42.test/callback"
SCOPE = "service.read"
POOL_PER_USER = 24  # < refresh_tokens_per_app_user (25)
KEY_ENV = "C42_BENCH_SECRET_KEY"
_LONG = timedelta(days=30)  # a reused (`--reuse`) database keeps working tokens


def server_key() -> str:
    """The benchmark server's secret key for this process (generated once)."""
    key = os.environ.get(KEY_ENV)
    if not key:
        key = random_secrets.token_urlsafe(32)
        os.environ[KEY_ENV] = key
    return key


def database_of(display_url: str, scale: int) -> Database:
    """The seeded database of a manifest (whose URL is kept without its password)."""
    kind = "sqlite" if display_url.startswith("sqlite") else "postgresql"
    return Database(targets([kind], [scale])[0].url)


def basic(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1 client_secret_basic."""
    raw = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return f"Basic {raw}"


def seed_credentials(db: Database, service_id: str, user_id: str) -> dict[str, Any]:
    """Register the bench app and issue the Bearer scenario's access token."""
    client_secret = secrets.new_client_secret()
    access_token = secrets.new_opaque_token()
    with db.session(write=True) as session:
        created = apps.create(
            session,
            server_key(),
            apps.AppSpec(service_id, APP_NAME, [REDIRECT_URI]),
            client_secret=client_secret,
        )
        session.execute(insert(OAuthToken), [_row(created.id, user_id, access_token)])
    return {
        "oauth_client_id": created.client_id,
        "oauth_client_secret": client_secret,
        "bearer_token": access_token,
    }


def rekey(db: Database, client_id: str, client_secret: str) -> None:
    """Store the client secret's digest under this process's server key."""
    with db.session(write=True) as session:
        app = session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
        if app is None:
            raise SystemExit(f"the bench app {client_id} is missing: seed again")
        apps.set_secret(app, server_key(), client_secret)


def refresh_bodies(db: Database, client_id: str, count: int) -> list[str]:
    """Up to `count` form bodies `grant_type=refresh_token&refresh_token=...`, each with a
    fresh refresh token (at most POOL_PER_USER per user)."""
    with db.session(write=True) as session:
        app_id = session.scalar(select(OAuthApp.id).where(OAuthApp.client_id == client_id))
        if app_id is None:
            raise SystemExit(f"the bench app {client_id} is missing: seed again")
        session.execute(  # earlier pools: used up or not, they are done with
            update(OAuthToken)
            .where(OAuthToken.app_id == app_id, OAuthToken.refresh_digest.is_not(None))
            .values(refresh_revoked_at=utcnow())
        )
        users = list(session.scalars(select(User.id).order_by(User.id)))
        count = min(count, len(users) * POOL_PER_USER)  # past that, answers show non-2xx
        values = [secrets.new_opaque_token() for _ in range(count)]
        rows = [
            _row(app_id, users[i % len(users)], None, refresh_token=value)
            for i, value in enumerate(values)
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(OAuthToken), rows[start : start + 5000])
    return [f"grant_type=refresh_token&refresh_token={value}" for value in values]


def _row(
    app_id: str, user_id: str, access_token: str | None, *, refresh_token: str | None = None
) -> dict[str, Any]:
    """One oauth_tokens row as `c42.auth.oauth.tokens.insert` writes it (digests only)."""
    now = utcnow()
    return {
        "id": new_id(),
        "app_id": app_id,
        "user_id": user_id,
        "access_digest": secrets.digest(access_token or secrets.new_opaque_token()),
        "refresh_digest": secrets.digest(refresh_token) if refresh_token else None,
        "scope": SCOPE,
        "family_id": new_id(),
        "code_id": None,
        "issued_at": now,
        "access_expires_at": now + _LONG,
        "refresh_expires_at": now + _LONG if refresh_token else None,
        "access_revoked_at": None,
        "refresh_revoked_at": None,
        "rotated_at": None,
    }
