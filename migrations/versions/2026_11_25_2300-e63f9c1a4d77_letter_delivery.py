"""Letters are delivered: a "delivered" status, the publisher's details, and a public delivery
log (when, to whom, how).

Revision ID: e63f9c1a4d77
Revises: d52e8b0f3c66
Create Date: 2026-11-25 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e63f9c1a4d77"
down_revision: str | None = "d52e8b0f3c66"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(
            sa.Column("publisher_name", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("publisher_contact", sa.String(254), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("delivery_plan", sa.String(500), nullable=False, server_default="")
        )
        batch.drop_constraint(op.f("ck_letters_status_valid"), type_="check")
        batch.create_check_constraint(
            "status_valid", "status IN ('draft', 'open', 'closed', 'delivered')"
        )
    with op.batch_alter_table("letters") as batch:
        for name in ("publisher_name", "publisher_contact", "delivery_plan"):
            batch.alter_column(name, server_default=None)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("method", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_deliveries_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_letter_id"), "deliveries", ["letter_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    with op.batch_alter_table("letters") as batch:
        batch.drop_constraint(op.f("ck_letters_status_valid"), type_="check")
        batch.create_check_constraint("status_valid", "status IN ('draft', 'open', 'closed')")
        for name in ("delivery_plan", "publisher_contact", "publisher_name"):
            batch.drop_column(name)
