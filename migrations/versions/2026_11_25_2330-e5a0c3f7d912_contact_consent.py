"""Signers' consent to be emailed by the organisers; indexes for the dashboard and CSV export.

Revision ID: e5a0c3f7d912
Revises: d5e8a3f19c70
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a0c3f7d912"
down_revision: str | None = "d5e8a3f19c70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        # Existing signers never agreed: false for all of them.
        batch.add_column(
            sa.Column("may_contact", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_signatures_letter_state_country", "signatures", ["letter_id", "state", "country"]
    )
    op.create_index("ix_signatures_letter_state_id", "signatures", ["letter_id", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_signatures_letter_state_id", table_name="signatures")
    op.drop_index("ix_signatures_letter_state_country", table_name="signatures")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("may_contact")
