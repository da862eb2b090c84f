"""Tables for letters, their recipients and first signatories."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, string_enum, utcnow


class LetterStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    DELIVERED = "delivered"


class Letter(SQLModel, table=True):
    __tablename__ = "letters"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    body_markdown: str = Field(sa_column=Column(Text, nullable=False))
    language: str = Field(default="en", max_length=12)
    status: LetterStatus = Field(
        default=LetterStatus.DRAFT,
        sa_column=Column(string_enum(LetterStatus), nullable=False),
    )
    goal: int | None = Field(default=None, ge=1)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who publishes the letter, how to reach them, and how and when it will be delivered.
    publisher_name: str = Field(default="", max_length=200)
    publisher_contact: str = Field(default="", max_length=254)
    delivery_plan: str = Field(default="", max_length=500)


class Recipient(SQLModel, table=True):
    __tablename__ = "recipients"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=200)
    title: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=2)
    postal_address: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    language: str = Field(default="en", max_length=12)


class FirstSignatory(SQLModel, table=True):
    __tablename__ = "first_signatories"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=200)


class SupportingStatement(SQLModel, table=True):
    """A short message from a notable backer, printed with the letter (who, who they are, what)."""

    __tablename__ = "supporting_statements"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))


class Delivery(SQLModel, table=True):
    """One handing-over of the letter: when, to whom, how. Shown publicly."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True, ondelete="CASCADE")
    delivered_on: date
    recipient: str = Field(max_length=300)
    method: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LetterVersion(SQLModel, table=True):
    """The letter's text as it was published and after each later edit: what people signed."""

    __tablename__ = "letter_versions"
    __table_args__ = (UniqueConstraint("letter_id", "number", name="uq_letter_versions_number"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    number: int
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    body_markdown: str = Field(sa_column=Column(Text, nullable=False))
    # The language of this text: the letter's own, or one of its translations'. Numbers run
    # across languages, so (letter, number) names one text, whichever its language.
    language: str = Field(default="en", max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LetterTranslation(SQLModel, table=True):
    """The letter's text in another language than its own; one per language."""

    __tablename__ = "letter_translations"
    __table_args__ = (
        UniqueConstraint("letter_id", "language", name="uq_letter_translations_language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    language: str = Field(max_length=12)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    body_markdown: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
