"""Organisers' second factor (an authenticator app), and the policy that can require it.

Revision ID: d52e8b0f3c66
Revises: c41d7a9e2b55
Create Date: 2026-11-25 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d52e8b0f3c66"
down_revision: str | None = "c41d7a9e2b55"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisers") as batch:
        batch.add_column(sa.Column("totp_secret_encrypted", sa.String(256), nullable=True))
        batch.add_column(
            sa.Column("totp_last_step", sa.Integer(), nullable=False, server_default="-1")
        )
        batch.add_column(
            sa.Column("second_factor_failures", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("organisers") as batch:
        batch.alter_column("totp_last_step", server_default=None)
        batch.alter_column("second_factor_failures", server_default=None)
    op.create_table(
        "workspace_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("require_second_factor", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_policy")),
    )


def downgrade() -> None:
    op.drop_table("workspace_policy")
    with op.batch_alter_table("organisers") as batch:
        batch.drop_column("second_factor_failures")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret_encrypted")
