"""openid connect

OpenID Connect signing keys and logout URIs (issue 15; owned by the OIDC work). Reserved in the
chain so that parallel work adds its tables without renumbering; until it is filled in, this
revision changes nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:20:00.000000
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
