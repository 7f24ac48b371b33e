"""openid connect

OpenID Connect (issue 15, SPEC §10): the id_token signing keys (`oidc_signing_keys`: the
private key sealed with a key derived from the server secret, the public JWK in clear, and
from when it signs: published first, used later), the
login context of an `openid` grant kept for its refreshes (`oidc_grants`: `auth_time` per
token family), the `nonce` and `auth_time` an authorization code carries to its id_token, and
each app's registered `post_logout_redirect_uris` (RP-initiated logout 1.0).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("sealed_private_key", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("active_from", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_oidc_signing_keys")),
    )
    op.create_table(
        "oidc_grants",
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("auth_time", sa.DateTime(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oidc_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_oidc_grants")),
    )
    with op.batch_alter_table("oidc_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_grants_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_grants_created"), ["created"], unique=False)
    with op.batch_alter_table("oauth_authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nonce", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("auth_time", sa.DateTime(), nullable=True))
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "post_logout_redirect_uris",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_apps", schema=None) as batch_op:
        batch_op.drop_column("post_logout_redirect_uris")
    with op.batch_alter_table("oauth_authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("auth_time")
        batch_op.drop_column("nonce")
    with op.batch_alter_table("oidc_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_grants_created"))
        batch_op.drop_index(batch_op.f("ix_oidc_grants_user_id"))
    op.drop_table("oidc_grants")
    op.drop_table("oidc_signing_keys")
