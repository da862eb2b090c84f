"""Signers' addresses encrypted and found by keyed hash; mail limits per window; the outbox
becomes the job queue.

Existing addresses are encrypted with the deployment's keys (from the environment, or the data
folder on the local default) and hashed; withdrawn signatures lose theirs. Pending outbox rows
become jobs.

Revision ID: b7c2e91f4a10
Revises: 3fa1d8a46984
Create Date: 2026-11-25 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c2e91f4a10"
down_revision: str | None = "3fa1d8a46984"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _encrypt_existing_addresses() -> None:
    connection = op.get_bind()
    signatures = sa.table(
        "signatures",
        sa.column("id", sa.Integer),
        sa.column("letter_id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("state", sa.String),
        sa.column("email_encrypted", sa.String),
        sa.column("email_hash", sa.String),
        sa.column("email_domain_hash", sa.String),
    )
    rows = connection.execute(
        sa.select(signatures.c.id, signatures.c.letter_id, signatures.c.email, signatures.c.state)
    ).all()
    if not rows:
        return  # a new database needs no keys here
    from app.config import Settings
    from app.signatures.addresses import canonical_email

    keyring = Settings().keyring()
    for signature_id, letter_id, email, state in rows:
        if state == "withdrawn":
            continue  # withdrawing now leaves nothing: the address goes
        connection.execute(
            sa.update(signatures)
            .where(signatures.c.id == signature_id)
            .values(
                email_encrypted=keyring.encrypt_email(email),
                email_hash=keyring.email_hash(
                    letter_id=letter_id, canonical_address=canonical_email(email)
                ),
                email_domain_hash=keyring.domain_hash(
                    letter_id=letter_id, domain=email.rpartition("@")[2]
                ),
            )
        )
    connection.execute(
        sa.update(signatures)
        .where(signatures.c.state == "withdrawn")
        .values(email_encrypted=None, email_hash=None, email_domain_hash=None)
    )


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("email_encrypted", sa.String(512), nullable=True))
        batch.add_column(sa.Column("email_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("email_domain_hash", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("mails_in_window", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(_utc("mail_window_started_at", nullable=True))
    _encrypt_existing_addresses()
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint("uq_signatures_letter_email", type_="unique")
        batch.drop_column("email")
        batch.drop_column("email_canonical")
        batch.drop_column("duplicate_notices")
        batch.alter_column("mails_in_window", server_default=None)
        # NULL hashes (withdrawn signatures) never collide: signing again is a new signature.
        batch.create_unique_constraint(
            "uq_signatures_letter_email_hash", ["letter_id", "email_hash"]
        )
    op.create_index("ix_signatures_state_created", "signatures", ["state", "created_at"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        _utc("run_at", nullable=False),
        _utc("locked_until", nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("unique_key", sa.String(120), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("unique_key", name=op.f("uq_jobs_unique_key")),
        sa.CheckConstraint("state IN ('pending', 'done', 'failed', 'dropped')", name="state_valid"),
    )
    op.create_index("ix_jobs_state_run_at", "jobs", ["state", "run_at"])
    op.create_index("ix_jobs_kind_ref", "jobs", ["kind", "ref_id"])
    # Mail still waiting in the outbox is not lost: it becomes a job of the one mail kind.
    op.execute(
        "INSERT INTO jobs (kind, ref_id, state, attempts, max_attempts, run_at, last_error,"
        " created_at) SELECT 'signature.mail', ref_id, 'pending', attempts, 12, next_attempt_at,"
        " last_error, created_at FROM outbox_messages WHERE status = 'pending'"
    )
    op.drop_table("outbox_messages")


def downgrade() -> None:
    raise NotImplementedError(
        "Addresses are encrypted from this revision on; restore a backup to go back."
    )
