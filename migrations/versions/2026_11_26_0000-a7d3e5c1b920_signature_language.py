"""The language each signature was signed in (existing ones: their letter's language).

Revision ID: a7d3e5c1b920
Revises: e5a0c3f7d912
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d3e5c1b920"
down_revision: str | None = "e5a0c3f7d912"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=12), nullable=False, server_default="en")
        )
    op.execute(
        "UPDATE signatures SET language = "
        "(SELECT letters.language FROM letters WHERE letters.id = signatures.letter_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("language")
