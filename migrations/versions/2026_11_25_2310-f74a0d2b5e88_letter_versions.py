"""Versions of a letter's text once it is open, and the version each signature was made on.

Revision ID: f74a0d2b5e88
Revises: e63f9c1a4d77
Create Date: 2026-11-25 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f74a0d2b5e88"
down_revision: str | None = "e63f9c1a4d77"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letter_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_letter_versions_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_versions")),
        sa.UniqueConstraint("letter_id", "number", name="uq_letter_versions_number"),
    )
    # Letters already public get their present text as version 1.
    op.execute(
        "INSERT INTO letter_versions (letter_id, number, title, summary, body_markdown, created_at)"
        " SELECT id, 1, title, summary, body_markdown, COALESCE(published_at, created_at)"
        " FROM letters WHERE status <> 'draft'"
    )
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("letter_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("letter_version")
    op.drop_table("letter_versions")
