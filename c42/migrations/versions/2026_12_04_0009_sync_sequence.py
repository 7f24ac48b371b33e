"""sync sequence

Writes without a global lock (issue 12). On PostgreSQL a write's sync token becomes its
transaction id plus an offset kept in `sync_counter.value`, and readers report the watermark
computed by the function `c42_sync_watermark()` (see `c42.sync` for why it is exact). The
offset is chosen so that every later token is above every token the counter handed out.
SQLite keeps the counter (one writer at a time): nothing changes there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:20:00.000000
"""

from alembic import op

from c42.sync import WATERMARK_FUNCTION

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WATERMARK_FUNCTION)
    # This transaction's id is below every later one: offset = last token - this id, so
    # later tokens (id + offset) are all above the last token the counter handed out.
    op.execute(
        "UPDATE sync_counter SET value = value - pg_current_xact_id()::text::bigint WHERE id = 1"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Back to a counter that continues above every token handed out so far.
    op.execute(
        "UPDATE sync_counter SET value = value + pg_current_xact_id()::text::bigint WHERE id = 1"
    )
    op.execute("DROP FUNCTION c42_sync_watermark()")
