"""Updates to signers: updates, their versions in other languages, one delivery per signer.

Revision ID: b8e4f2a6c310
Revises: b8e4f6d2c031
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e4f2a6c310"
down_revision: str | None = "b8e4f6d2c031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _utc("created_at", nullable=False),
        _utc("sent_at", nullable=True),
        _utc("finished_at", nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("fanout_after", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_updates_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_updates_organiser_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_updates")),
        sa.CheckConstraint(
            "state IN ('draft', 'sending', 'sent')", name=op.f("ck_updates_state_valid")
        ),
    )
    op.create_index("ix_updates_letter_created", "updates", ["letter_id", "created_at"])
    op.create_table(
        "update_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["updates.id"],
            name=op.f("fk_update_versions_update_id_updates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_versions")),
        sa.UniqueConstraint("update_id", "language", name="uq_update_versions_language"),
    )
    op.create_table(
        "update_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("sent_at", nullable=True),
        _utc("dropped_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["updates.id"],
            name=op.f("fk_update_deliveries_update_id_updates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_update_deliveries_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_deliveries")),
        sa.UniqueConstraint("update_id", "signature_id", name="uq_update_deliveries_signature"),
    )
    op.create_index("ix_update_deliveries_signature", "update_deliveries", ["signature_id"])


def downgrade() -> None:
    op.drop_index("ix_update_deliveries_signature", table_name="update_deliveries")
    op.drop_table("update_deliveries")
    op.drop_table("update_versions")
    op.drop_index("ix_updates_letter_created", table_name="updates")
    op.drop_table("updates")
