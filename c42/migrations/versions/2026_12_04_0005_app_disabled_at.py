"""app disabled_at

An operator can disable an OAuth app (c42 app disable / enable): a disabled app is unknown to
the authorization and token endpoints, its tokens are refused and its web origins are no
longer answered by CORS.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
