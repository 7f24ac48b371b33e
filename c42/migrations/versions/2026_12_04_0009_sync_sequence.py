"""sync sequence

Writes without a global lock (issue 12; owned by the PostgreSQL writes work). Reserved in the
chain so that parallel work adds its tables without renumbering; until it is filled in, this
revision changes nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:20:00.000000
"""

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
