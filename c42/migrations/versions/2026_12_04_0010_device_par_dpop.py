"""device par dpop

Device grant, PAR, DPoP (issue 16). Reserved in the chain so that parallel work adds its tables
without renumbering; until it is filled in, this revision changes nothing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:20:00.000000
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
