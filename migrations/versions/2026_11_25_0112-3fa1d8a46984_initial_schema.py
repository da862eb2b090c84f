"""Initial schema: letters, recipients, first signatories, signatures, mail outbox.

Revision ID: 3fa1d8a46984
Revises:
Create Date: 2026-11-25 01:12:53
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3fa1d8a46984"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("goal", sa.Integer(), nullable=True),
        _utc("closes_at", nullable=True),
        _utc("created_at", nullable=False),
        _utc("published_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint("slug", name=op.f("uq_letters_slug")),
        _one_of("status", ("draft", "open", "closed")),
        sa.CheckConstraint("goal IS NULL OR goal > 0", name="goal_positive"),
    )
    op.create_table(
        "recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_recipients_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
    )
    op.create_index(op.f("ix_recipients_letter_id"), "recipients", ["letter_id"])
    op.create_table(
        "first_signatories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_first_signatories_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_signatories")),
    )
    op.create_index(op.f("ix_first_signatories_letter_id"), "first_signatories", ["letter_id"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("affiliation", sa.String(160), nullable=False),
        sa.Column("city", sa.String(80), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_canonical", sa.String(254), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("duplicate_notices", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("confirmed_at", nullable=True),
        _utc("withdrawn_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_signatures_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
        # One signature per letter and mailbox: the database decides, not the code.
        sa.UniqueConstraint("letter_id", "email_canonical", name="uq_signatures_letter_email"),
        sa.UniqueConstraint("public_id", name=op.f("uq_signatures_public_id")),
        _one_of("state", ("pending", "confirmed", "withdrawn")),
        _one_of("visibility", ("public", "letter_only", "counted_only")),
    )
    op.create_index(
        "ix_signatures_letter_state_confirmed",
        "signatures",
        ["letter_id", "state", "confirmed_at"],
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("next_attempt_at", nullable=False),
        _utc("locked_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        _one_of("status", ("pending", "sent", "failed", "dropped")),
    )
    op.create_index(
        "ix_outbox_messages_status_due", "outbox_messages", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("outbox_messages")
    op.drop_table("signatures")
    op.drop_table("first_signatories")
    op.drop_table("recipients")
    op.drop_table("letters")
