"""device par dpop

Device authorization grant (issue 16, SPEC §11, RFC 8628): which apps may use it
(`oauth_apps.allow_device`) and the pending device authorizations (`oauth_device_codes`:
device and user codes stored only as digests, the polling interval and last poll, the user's
decision, and when the device code was redeemed). Pushed authorization requests (RFC 9126):
which apps must use them (`oauth_apps.require_par`) and the pushed requests
(`oauth_pushed_requests`: the request_uri's digest, the parameters, single use).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_device", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("require_par", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "oauth_device_codes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("device_digest", sa.String(length=64), nullable=False),
        sa.Column("user_code_digest", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["oauth_apps.id"],
            name=op.f("fk_oauth_device_codes_app_id_oauth_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_device_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_device_codes")),
        sa.UniqueConstraint("device_digest", name=op.f("uq_oauth_device_codes_device_digest")),
        sa.UniqueConstraint(
            "user_code_digest", name=op.f("uq_oauth_device_codes_user_code_digest")
        ),
    )
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_device_codes_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "oauth_pushed_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("uri_digest", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["oauth_apps.id"],
            name=op.f("fk_oauth_pushed_requests_app_id_oauth_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_pushed_requests")),
        sa.UniqueConstraint("uri_digest", name=op.f("uq_oauth_pushed_requests_uri_digest")),
    )
    with op.batch_alter_table("oauth_pushed_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_pushed_requests_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_pushed_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_pushed_requests_expires_at"))
    op.drop_table("oauth_pushed_requests")
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_device_codes_expires_at"))
    op.drop_table("oauth_device_codes")
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.drop_column("require_par")
        batch_op.drop_column("allow_device")
