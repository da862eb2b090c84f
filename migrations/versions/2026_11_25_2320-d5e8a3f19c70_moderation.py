"""Moderation: hidden names, invalidated signatures, bulk invalidation rules.

Revision ID: d5e8a3f19c70
Revises: f74a0d2b5e88
Create Date: 2026-11-25 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e8a3f19c70"
down_revision: str | None = "f74a0d2b5e88"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = "state IN ('pending', 'confirmed', 'withdrawn')"
STATES_AFTER = "state IN ('pending', 'confirmed', 'withdrawn', 'invalidated')"


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "invalidation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("invalidated", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("reversed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_invalidation_rules_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_invalidation_rules_organiser_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invalidation_rules")),
        sa.CheckConstraint(
            "kind IN ('domain', 'window', 'pattern')", name=op.f("ck_invalidation_rules_kind_valid")
        ),
    )
    op.create_index(
        "ix_invalidation_rules_letter_created", "invalidation_rules", ["letter_id", "created_at"]
    )
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(_utc("hidden_at", nullable=True))
        batch.add_column(_utc("invalidated_at", nullable=True))
        batch.add_column(
            sa.Column("invalidated_reason", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("invalidation_rule_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_signatures_invalidation_rule_id_invalidation_rules"),
            "invalidation_rules",
            ["invalidation_rule_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_constraint(op.f("ck_signatures_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_signatures_state_valid"), sa.text(STATES_AFTER))
    with op.batch_alter_table("signatures") as batch:
        batch.alter_column("invalidated_reason", server_default=None)
    op.create_index("ix_signatures_letter_id_id", "signatures", ["letter_id", "id"])
    op.create_index("ix_signatures_letter_domain", "signatures", ["letter_id", "email_domain_hash"])
    op.create_index("ix_signatures_invalidation_rule", "signatures", ["invalidation_rule_id"])


def downgrade() -> None:
    # Invalidated signatures count again: the old schema has no state for them.
    op.execute("UPDATE signatures SET state = 'confirmed' WHERE state = 'invalidated'")
    op.drop_index("ix_signatures_invalidation_rule", table_name="signatures")
    op.drop_index("ix_signatures_letter_domain", table_name="signatures")
    op.drop_index("ix_signatures_letter_id_id", table_name="signatures")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint(op.f("ck_signatures_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_signatures_state_valid"), sa.text(STATES_BEFORE))
        batch.drop_constraint(
            op.f("fk_signatures_invalidation_rule_id_invalidation_rules"), type_="foreignkey"
        )
        batch.drop_column("invalidation_rule_id")
        batch.drop_column("invalidated_reason")
        batch.drop_column("invalidated_at")
        batch.drop_column("hidden_at")
    op.drop_index("ix_invalidation_rules_letter_created", table_name="invalidation_rules")
    op.drop_table("invalidation_rules")
