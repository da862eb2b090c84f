"""Supporting statements: short messages from notable backers, printed with the letter.

Revision ID: b8e4f6d2c031
Revises: a7d3e5c1b920
Create Date: 2026-11-26 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e4f6d2c031"
down_revision: str | None = "a7d3e5c1b920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supporting_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_supporting_statements_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporting_statements")),
    )
    op.create_index(
        op.f("ix_supporting_statements_letter_id"), "supporting_statements", ["letter_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_supporting_statements_letter_id"), table_name="supporting_statements")
    op.drop_table("supporting_statements")
