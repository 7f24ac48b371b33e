"""purge indexes

`c42 purge` (c42.ops.purge) deletes authorization codes, OAuth token pairs, User and Action
Tokens and browser sessions that ended more than the retention ago. Each of its queries is a
range of one of these indexes, so a purge reads what it deletes, not the whole history. The
indexes of nullable end times (revoked, used up) are partial: a row gets an entry only once it
has something to index. A pair without a refresh token has no refresh_expires_at: its end
times sit under NULL in the composite oauth_tokens indexes. On PostgreSQL the indexes are
built CONCURRENTLY, so that token issuance and logins go on while a large table is indexed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:00:00.000000
"""

import contextlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (table, index, columns, predicate of a partial index or None)
INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ("oauth_authorization_codes", "ix_oauth_authorization_codes_expires_at", ["expires_at"], None),
    (
        "oauth_tokens",
        "ix_oauth_tokens_refresh_expires_at_access_expires_at",
        ["refresh_expires_at", "access_expires_at"],
        None,
    ),
    (
        "oauth_tokens",
        "ix_oauth_tokens_refresh_revoked_at",
        ["refresh_revoked_at"],
        "refresh_revoked_at IS NOT NULL",
    ),
    (
        "oauth_tokens",
        "ix_oauth_tokens_refresh_expires_at_access_revoked_at",
        ["refresh_expires_at", "access_revoked_at"],
        "access_revoked_at IS NOT NULL",
    ),
    ("user_tokens", "ix_user_tokens_expires_at", ["expires_at"], "expires_at IS NOT NULL"),
    ("user_tokens", "ix_user_tokens_revoked_at", ["revoked_at"], "revoked_at IS NOT NULL"),
    ("action_tokens", "ix_action_tokens_expires_at", ["expires_at"], "expires_at IS NOT NULL"),
    ("action_tokens", "ix_action_tokens_revoked_at", ["revoked_at"], "revoked_at IS NOT NULL"),
    (
        "action_tokens",
        "ix_action_tokens_used_up",
        ["last_used"],
        "max_uses IS NOT NULL AND use_count >= max_uses",
    ),
    ("browser_sessions", "ix_browser_sessions_last_seen", ["last_seen"], None),
    ("browser_sessions", "ix_browser_sessions_expires_at", ["expires_at"], None),
    (
        "browser_sessions",
        "ix_browser_sessions_revoked_at",
        ["revoked_at"],
        "revoked_at IS NOT NULL",
    ),
]


def _where(predicate: str | None) -> dict[str, Any]:  # dialect options, Index(**kw)
    if predicate is None:
        return {}
    return {"sqlite_where": sa.text(predicate), "postgresql_where": sa.text(predicate)}


def _outside_transaction() -> contextlib.AbstractContextManager[None]:
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    if op.get_bind().dialect.name == "postgresql":
        return op.get_context().autocommit_block()
    return contextlib.nullcontext()


def upgrade() -> None:
    with _outside_transaction():
        for table, name, columns, predicate in INDEXES:
            op.create_index(name, table, columns, postgresql_concurrently=True, **_where(predicate))


def downgrade() -> None:
    with _outside_transaction():
        for table, name, _columns, predicate in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, **_where(predicate))
