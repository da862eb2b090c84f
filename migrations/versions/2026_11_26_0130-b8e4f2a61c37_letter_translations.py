"""Translations of a letter's text; the language of each version; signatures by language.

Revision ID: b8e4f2a61c37
Revises: c0a7e2d4b913
Create Date: 2026-11-26 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e4f2a61c37"
down_revision: str | None = "c0a7e2d4b913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letter_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_letter_translations_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_translations")),
        sa.UniqueConstraint("letter_id", "language", name="uq_letter_translations_language"),
    )
    with op.batch_alter_table("letter_versions") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=12), nullable=False, server_default="en")
        )
    # Every version so far is of the letter's own text, in its own language.
    op.execute(
        "UPDATE letter_versions SET language = "
        "(SELECT letters.language FROM letters WHERE letters.id = letter_versions.letter_id)"
    )
    op.create_index(
        "ix_signatures_letter_state_language", "signatures", ["letter_id", "state", "language"]
    )


def downgrade() -> None:
    op.drop_index("ix_signatures_letter_state_language", table_name="signatures")
    with op.batch_alter_table("letter_versions") as batch:
        batch.drop_column("language")
    op.drop_table("letter_translations")
