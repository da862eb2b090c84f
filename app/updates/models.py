"""Tables for updates: the update and its versions in other languages, and one delivery row
per signer, unique, so nobody is mailed the same update twice (retries, a second press)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, string_enum, utcnow


class UpdateState(StrEnum):
    DRAFT = "draft"  # written, editable, mailed to nobody
    SENDING = "sending"  # the fan-out is queueing one mail per consenting signer
    SENT = "sent"  # every mail is queued (each is sent, or dropped, by its own job)


class Update(SQLModel, table=True):
    __tablename__ = "updates"
    __table_args__ = (Index("ix_updates_letter_created", "letter_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    organiser_id: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    subject: str = Field(max_length=200)
    body_markdown: str = Field(sa_column=Column(Text, nullable=False))
    # The language the original is written in; signers of another language without a
    # version of their own receive it.
    language: str = Field(default="en", max_length=12)
    state: UpdateState = Field(
        default=UpdateState.DRAFT, sa_column=Column(string_enum(UpdateState), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when send was pressed
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # all mails queued
    # Planned when send is pressed; once every mail is queued, the number queued.
    recipients: int = 0
    # The fan-out's keyset position: the last signature id it has queued a mail for.
    fanout_after: int = 0


class UpdateVersion(SQLModel, table=True):
    """The update in another language: its own subject and text."""

    __tablename__ = "update_versions"
    __table_args__ = (
        UniqueConstraint("update_id", "language", name="uq_update_versions_language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="updates.id", ondelete="CASCADE")
    language: str = Field(max_length=12)
    subject: str = Field(max_length=200)
    body_markdown: str = Field(sa_column=Column(Text, nullable=False))


class UpdateDelivery(SQLModel, table=True):
    """One signer's copy of one update: made once (unique), mailed by one job."""

    __tablename__ = "update_deliveries"
    __table_args__ = (
        UniqueConstraint("update_id", "signature_id", name="uq_update_deliveries_signature"),
        Index("ix_update_deliveries_signature", "signature_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="updates.id", ondelete="CASCADE")
    signature_id: int = Field(foreign_key="signatures.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Not sent: withdrawn, invalidated or unsubscribed before its turn came.
    dropped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
