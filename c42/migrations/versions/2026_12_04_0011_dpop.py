"""dpop

DPoP (issue 16, SPEC §11, RFC 9449): which apps must use it (`oauth_apps.require_dpop`), the
key an authorization code is bound to by `dpop_jkt` on the authorization request (§10), and the
key an access token is bound to (`oauth_tokens.dpop_jkt`, the RFC 7638 thumbprint; a public
app's refresh token of the same row is bound to the same key, §5).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_dpop", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("oauth_authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_column("dpop_jkt")
    with op.batch_alter_table("oauth_authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("dpop_jkt")
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.drop_column("require_dpop")
