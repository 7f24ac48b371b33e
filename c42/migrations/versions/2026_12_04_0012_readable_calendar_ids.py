"""readable calendar ids

The events list's requester-relative `calendar_ids` (the event's calendars the reader can
see) kept in `readable_events` beside the permission (issue 12: the per-request sub-select
cost ~75 us of PostgreSQL CPU per page of ten). Filled here by the rule of
`c42.access.events.visible_calendar_ids`, comma-joined in id order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# `c42.access.permissions.reads`: any permission but `removed` (0) reads.
REMOVED = 0
FILL = """
UPDATE readable_events SET calendar_ids = (
    SELECT {joined} FROM (
        SELECT event_calendars.calendar_id AS calendar_id
        FROM event_calendars
        JOIN calendar_subscriptions
          ON calendar_subscriptions.calendar_id = event_calendars.calendar_id
         AND calendar_subscriptions.user_id = readable_events.user_id
        JOIN calendars ON calendars.id = event_calendars.calendar_id
        WHERE event_calendars.event_id = readable_events.event_id
          AND calendar_subscriptions.permission > {removed}
          AND calendars.deleted_at IS NULL
        ORDER BY event_calendars.calendar_id
    ) AS visible_calendars
)
"""


def upgrade() -> None:
    with op.batch_alter_table("readable_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_ids", sa.Text(), nullable=True))
    postgresql = op.get_bind().dialect.name == "postgresql"
    joined = "string_agg(calendar_id, ',')" if postgresql else "group_concat(calendar_id, ',')"
    op.execute(FILL.format(joined=joined, removed=REMOVED))


def downgrade() -> None:
    with op.batch_alter_table("readable_events", schema=None) as batch_op:
        batch_op.drop_column("calendar_ids")
