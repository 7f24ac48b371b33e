"""readable events

Who may read which event, kept as rows for the events list (c42.access.readable), filled
here from the relationship rule as it stands at this revision (SPEC §4: a direct event
subscription overrules; otherwise the best permission of the live calendars).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:52:28.214066
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FILL = """
INSERT INTO readable_events (user_id, event_id, permission, service_id, sync_token, due, start)
SELECT access.user_id, access.event_id, access.permission,
       events.service_id, events.sync_token, events.due, events.start
FROM (
    SELECT user_id, event_id, permission FROM event_subscriptions
    UNION ALL
    SELECT cs.user_id, ec.event_id, max(cs.permission)
    FROM event_calendars ec
    JOIN calendar_subscriptions cs ON cs.calendar_id = ec.calendar_id
    JOIN calendars c ON c.id = ec.calendar_id
    WHERE cs.permission > 0 AND c.deleted_at IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM event_subscriptions es
          WHERE es.event_id = ec.event_id AND es.user_id = cs.user_id
      )
    GROUP BY cs.user_id, ec.event_id
) AS access
JOIN events ON events.id = access.event_id
WHERE access.permission > 0 AND events.deleted_at IS NULL
"""


def upgrade() -> None:
    op.create_table(
        "readable_events",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("permission", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=True),
        sa.Column("sync_token", sa.BigInteger(), nullable=False),
        sa.Column("due", sa.DateTime(), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_readable_events_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_readable_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event_id", name=op.f("pk_readable_events")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("readable_events", schema=None) as batch_op:
        batch_op.create_index("ix_readable_events_event", ["event_id"], unique=False)
        batch_op.create_index(
            "ix_readable_events_user_service",
            ["user_id", "service_id", "sync_token", "event_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_readable_events_user_sync", ["user_id", "sync_token", "event_id"], unique=False
        )
    op.execute(FILL)


def downgrade() -> None:
    with op.batch_alter_table("readable_events", schema=None) as batch_op:
        batch_op.drop_index("ix_readable_events_user_sync")
        batch_op.drop_index("ix_readable_events_user_service")
        batch_op.drop_index("ix_readable_events_event")
    op.drop_table("readable_events")
