"""audit log

The audit log of SPEC §8 (`audit_events`: who did what to whom, from where; never a secret)
replaces `security_events`, whose rows it takes over (kind -> type, the app's id -> its
client_id, created -> time). OAuth token pairs get `last_used` (to the minute, like User and
Action Tokens), so every credential kind shows when it was last used.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=32), nullable=True),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_time"), ["time"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_user_id_time"), ["user_id", "time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_type_time"), ["type", "time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_client_id_time"), ["client_id", "time"], unique=False
        )
    op.execute(
        "INSERT INTO audit_events (id, time, type, user_id, client_id, detail)"
        " SELECT e.id, e.created, e.kind, e.user_id,"
        " (SELECT a.client_id FROM oauth_apps a WHERE a.id = e.app_id), e.detail"
        " FROM security_events e"
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_security_events_kind"))
    op.drop_table("security_events")
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used")
    op.create_table(
        "security_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_events_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO security_events (id, kind, user_id, app_id, detail, created)"
        " SELECT e.id, e.type, e.user_id,"
        " (SELECT a.id FROM oauth_apps a WHERE a.client_id = e.client_id), e.detail, e.time"
        " FROM audit_events e"
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_client_id_time"))
        batch_op.drop_index(batch_op.f("ix_audit_events_type_time"))
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id_time"))
        batch_op.drop_index(batch_op.f("ix_audit_events_time"))
    op.drop_table("audit_events")
