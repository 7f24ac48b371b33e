"""audit log

Audit log, staff and last-used columns (issue 14; owned by the operators work). Reserved in the
chain so that parallel work adds its tables without renumbering; until it is filled in, this
revision changes nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:20:00.000000
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
