"""device auth_time

OpenID Connect on the device grant (RFC 8628, SPEC §10-§11): when the person who allowed a
device code on /device/ logged in (their browser session's `auth_time`, as an authorization
code carries it), for the `auth_time` of the device token's id_token and of its refreshes.
Codes allowed before this revision have none (their id_tokens leave `auth_time` out).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_time", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.drop_column("auth_time")
