"""live refresh tokens index

The refresh-token limits (SPEC §5.3) are counted on every issuance; a partial index of live
rows keeps that count small however many rotated or revoked rows a user has.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:45:15.370061
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "refresh_digest IS NOT NULL AND refresh_revoked_at IS NULL AND rotated_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oauth_tokens_live_refresh",
            ["user_id", "app_id", "refresh_expires_at"],
            unique=False,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_oauth_tokens_live_refresh",
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
