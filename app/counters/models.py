"""Derived counts per letter, and the changes not yet folded into them.

A confirmation never updates a counter row. Database triggers on ``signatures`` (created by the
migration) append what each change does to the counts to ``count_deltas``: an insert, on a row
of its own, that no two signers contend for. A recurring job folds those rows into the count
tables and deletes them; ``undersigned recount`` rebuilds the tables from the signatures. Every
write path, today's and tomorrow's (imports, paper signatures, raw SQL), is covered that way.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class LetterCount(SQLModel, table=True):
    """The letter's confirmed signatures, and how many of them are publicly named."""

    __tablename__ = "letter_counts"

    letter_id: int = Field(foreign_key="letters.id", primary_key=True, ondelete="CASCADE")
    total: int = 0
    named: int = 0
    # Goes up by one each time any of the letter's counts changes.
    version: int = 0
    # When ``total`` last moved, and when any count last moved.
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LetterCountryCount(SQLModel, table=True):
    __tablename__ = "letter_country_counts"

    letter_id: int = Field(foreign_key="letters.id", primary_key=True, ondelete="CASCADE")
    # "" for signers who gave no country.
    country: str = Field(primary_key=True, max_length=2)
    total: int = 0


class LetterDayCount(SQLModel, table=True):
    """Confirmed signatures that still count, by the UTC day they were confirmed."""

    __tablename__ = "letter_day_counts"

    letter_id: int = Field(foreign_key="letters.id", primary_key=True, ondelete="CASCADE")
    day: date = Field(primary_key=True)
    total: int = 0


class CountDelta(SQLModel, table=True):
    """What one change (or, on PostgreSQL, one statement) did to a letter's counts.

    No foreign key: a letter being deleted cascades to its signatures, whose trigger writes
    here in the same statement; the fold skips letters that no longer exist."""

    __tablename__ = "count_deltas"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int
    country: str = Field(default="", max_length=2)
    day: date | None = None
    named: bool = False
    delta: int
