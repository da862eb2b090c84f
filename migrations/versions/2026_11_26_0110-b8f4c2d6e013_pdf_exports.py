"""PDF exports: exports, their chunks, one file per recipient; the list-order index.

Revision ID: b8f4c2d6e013
Revises: c9d1e7a4f258
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8f4c2d6e013"
down_revision: str | None = "c9d1e7a4f258"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "state IN ('queued', 'rendering', 'merging', 'done', 'failed')"


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> sa.Column[sa.Integer]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pdf_exports",
        _int("id"),
        _int("letter_id"),
        _int("requested_by", nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _int("chunks_total"),
        _int("chunks_done"),
        _int("pages_total"),
        _int("pages_done"),
        _int("files_total"),
        _int("files_done"),
        _int("signature_count"),
        _int("named_count"),
        _int("country_count"),
        _utc("first_signed_at", nullable=True),
        _utc("last_signed_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_pdf_exports_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["organisers.id"],
            name=op.f("fk_pdf_exports_requested_by_organisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdf_exports")),
        sa.CheckConstraint(STATES, name=op.f("ck_pdf_exports_state_valid")),
    )
    op.create_index("ix_pdf_exports_letter_created", "pdf_exports", ["letter_id", "created_at"])
    op.create_table(
        "pdf_export_chunks",
        _int("id"),
        _int("export_id"),
        _int("position"),
        _utc("first_confirmed_at", nullable=False),
        _int("first_signature_id"),
        _utc("last_confirmed_at", nullable=False),
        _int("last_signature_id"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _int("names"),
        _int("pages", nullable=True),
        sa.Column("rendered", sa.Boolean(), nullable=False),
        sa.Column("rendered_by", sa.String(100), nullable=False),
        _utc("done_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["pdf_exports.id"],
            name=op.f("fk_pdf_export_chunks_export_id_pdf_exports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdf_export_chunks")),
        sa.UniqueConstraint(
            "export_id", "position", name=op.f("uq_pdf_export_chunks_export_position")
        ),
    )
    op.create_table(
        "pdf_files",
        _int("id"),
        _int("export_id"),
        _int("recipient_id", nullable=True),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("recipient_title", sa.String(200), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("verification_code", sa.String(32), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _int("size"),
        _int("pages"),
        _int("signature_count"),
        _utc("created_at", nullable=False),
        _utc("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["pdf_exports.id"],
            name=op.f("fk_pdf_files_export_id_pdf_exports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_pdf_files_recipient_id_recipients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdf_files")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_pdf_files_verification_code")),
    )
    op.create_index("ix_pdf_files_export", "pdf_files", ["export_id"])
    op.create_index(
        "ix_signatures_letter_confirmed_id", "signatures", ["letter_id", "confirmed_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_signatures_letter_confirmed_id", table_name="signatures")
    op.drop_index("ix_pdf_files_export", table_name="pdf_files")
    op.drop_table("pdf_files")
    op.drop_table("pdf_export_chunks")
    op.drop_index("ix_pdf_exports_letter_created", table_name="pdf_exports")
    op.drop_table("pdf_exports")
