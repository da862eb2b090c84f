"""Organisers: accounts, who organises which letter, sign-in links, the audit log.

Revision ID: c41d7a9e2b55
Revises: b7c2e91f4a10
Create Date: 2026-11-25 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c41d7a9e2b55"
down_revision: str | None = "b7c2e91f4a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "organisers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("email_encrypted", sa.String(512), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("disabled_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisers")),
        sa.UniqueConstraint("public_id", name=op.f("uq_organisers_public_id")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_organisers_email_hash")),
    )
    op.create_table(
        "letter_organisers",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        _utc("added_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_letter_organisers_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_letter_organisers_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("letter_id", "organiser_id", name=op.f("pk_letter_organisers")),
    )
    op.create_index(
        op.f("ix_letter_organisers_organiser_id"), "letter_organisers", ["organiser_id"]
    )
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(32), nullable=False),
        _utc("created_at", nullable=False),
        _utc("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_sign_in_links_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
        sa.UniqueConstraint("nonce", name=op.f("uq_sign_in_links_nonce")),
    )
    op.create_index(
        "ix_sign_in_links_organiser_created", "sign_in_links", ["organiser_id", "created_at"]
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("letter_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_audit_entries_organiser_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_audit_entries_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_letter_created", "audit_entries", ["letter_id", "created_at"])


def downgrade() -> None:
    op.drop_table("audit_entries")
    op.drop_table("sign_in_links")
    op.drop_table("letter_organisers")
    op.drop_table("organisers")
