"""Offline signatures: attestations, CSV imports, and each signature's source.

Revision ID: c9d1e7a4f258
Revises: b8e4f6a2c013
Create Date: 2026-11-26 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c9d1e7a4f258"
down_revision: str | None = "b8e4f6a2c013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFFLINE_WITHOUT_ADDRESS = (
    "source = 'online' OR (email_encrypted IS NULL AND email_hash IS NULL"
    " AND email_domain_hash IS NULL AND attestation_id IS NOT NULL)"
)


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _letter_and_organiser(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f(f"fk_{table}_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organiser_id"], ["organisers.id"], name=op.f(f"fk_{table}_organiser_id_organisers"),
            ondelete="SET NULL",
        ),
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("collector", sa.String(200), nullable=False),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("collected_from", sa.Date(), nullable=False),
        sa.Column("collected_until", sa.Date(), nullable=True),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        _utc("created_at", nullable=False),
        *_letter_and_organiser("attestations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestations")),
    )
    op.create_index("ix_attestations_letter_id_id", "attestations", ["letter_id", "id"])
    op.create_table(
        "offline_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("attestation_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("undone_at", nullable=True),
        sa.Column("undone_count", sa.Integer(), nullable=False),
        *_letter_and_organiser("offline_imports"),
        sa.ForeignKeyConstraint(
            ["attestation_id"],
            ["attestations.id"],
            name=op.f("fk_offline_imports_attestation_id_attestations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_imports")),
    )
    op.create_index(
        "ix_offline_imports_letter_sha256", "offline_imports", ["letter_id", "file_sha256"]
    )
    with op.batch_alter_table("signatures") as batch:
        # Every existing signature was signed on the site.
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="online")
        )
        batch.add_column(sa.Column("attestation_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("offline_import_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_signatures_attestation_id_attestations"),
            "attestations",
            ["attestation_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_signatures_offline_import_id_offline_imports"),
            "offline_imports",
            ["offline_import_id"],
            ["id"],
        )
        batch.create_check_constraint(
            op.f("ck_signatures_source_valid"), sa.text("source IN ('online', 'offline')")
        )
        batch.create_check_constraint(
            op.f("ck_signatures_offline_without_address"), sa.text(OFFLINE_WITHOUT_ADDRESS)
        )
    op.create_index(
        "ix_signatures_letter_source_state", "signatures", ["letter_id", "source", "state"]
    )
    op.create_index("ix_signatures_offline_import_id", "signatures", ["offline_import_id"])


def downgrade() -> None:
    # The old schema cannot tell an offline signature from an online one: they go.
    op.execute("DELETE FROM signatures WHERE source = 'offline'")
    op.drop_index("ix_signatures_offline_import_id", table_name="signatures")
    op.drop_index("ix_signatures_letter_source_state", table_name="signatures")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint(op.f("ck_signatures_offline_without_address"), type_="check")
        batch.drop_constraint(op.f("ck_signatures_source_valid"), type_="check")
        batch.drop_constraint(
            op.f("fk_signatures_offline_import_id_offline_imports"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_signatures_attestation_id_attestations"), type_="foreignkey")
        batch.drop_column("offline_import_id")
        batch.drop_column("attestation_id")
        batch.drop_column("source")
    op.drop_index("ix_offline_imports_letter_sha256", table_name="offline_imports")
    op.drop_table("offline_imports")
    op.drop_index("ix_attestations_letter_id_id", table_name="attestations")
    op.drop_table("attestations")
