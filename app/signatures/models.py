"""The signature table: one row per letter and mailbox, found by a keyed hash, never by address.

The address itself is stored only encrypted (``email_encrypted``); duplicates are found through
``email_hash``, an HMAC of the canonical address that is unique per letter. Withdrawing erases
the address, both hashes, the name, the place and the consent to be contacted: what remains
is that a signature once counted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, string_enum, utcnow


class SignatureState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    # Set aside by an organiser (alone or by a bulk rule): no longer counted, reversible.
    INVALIDATED = "invalidated"


class Visibility(StrEnum):
    """Who may see the signer's name."""

    PUBLIC = "public"  # shown on the site and in the delivered letter
    LETTER_ONLY = "letter_only"  # only in the letter delivered to recipients
    COUNTED_ONLY = "counted_only"  # counted, never named


class Signature(SQLModel, table=True):
    __tablename__ = "signatures"
    __table_args__ = (
        # NULLs (withdrawn signatures) never collide, so signing again makes a new signature.
        UniqueConstraint("letter_id", "email_hash", name="uq_signatures_letter_email_hash"),
        Index("ix_signatures_letter_state_confirmed", "letter_id", "state", "confirmed_at"),
        Index("ix_signatures_state_created", "state", "created_at"),
        # Moderation: keyset pages by id within a letter, and rules by domain or by rule.
        Index("ix_signatures_letter_id_id", "letter_id", "id"),
        Index("ix_signatures_letter_domain", "letter_id", "email_domain_hash"),
        Index("ix_signatures_invalidation_rule", "invalidation_rule_id"),
        # The organisers' dashboard (counts by country) and CSV export (keyset by id).
        Index("ix_signatures_letter_state_country", "letter_id", "state", "country"),
        Index("ix_signatures_letter_state_id", "letter_id", "state", "id"),
        # The dashboard's table by language.
        Index("ix_signatures_letter_state_language", "letter_id", "state", "language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Opaque id carried by tokens; replaced when a pending signature is submitted again, so
    # older links stop working.
    public_id: str = Field(max_length=32, unique=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    affiliation: str = Field(default="", max_length=160)
    city: str = Field(default="", max_length=80)
    country: str = Field(default="", max_length=2)
    email_encrypted: str | None = Field(default=None, max_length=512)
    email_hash: str | None = Field(default=None, max_length=64)
    email_domain_hash: str | None = Field(default=None, max_length=64)
    # The version of the letter's text the signer saw (None: signed before versions existed).
    letter_version: int | None = None
    # The language of the text the signer read and signed; their mails are written in it.
    language: str = Field(default="en", max_length=12)
    visibility: Visibility = Field(
        default=Visibility.COUNTED_ONLY, sa_column=Column(string_enum(Visibility), nullable=False)
    )
    # The signer agreed that the letter's organisers may email them about it (off by default);
    # only then does the CSV export carry the address.
    may_contact: bool = False
    state: SignatureState = Field(
        default=SignatureState.PENDING,
        sa_column=Column(string_enum(SignatureState), nullable=False),
    )
    # Mails this signature caused in the current window (rate limit against floods/lock-outs).
    mails_in_window: int = 0
    mail_window_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Hidden by an organiser: left out of every public list of names, still counted.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invalidated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invalidated_reason: str = Field(default="", max_length=200)
    # The bulk rule that invalidated it, so reversing the rule restores exactly these.
    invalidation_rule_id: int | None = Field(
        default=None, foreign_key="invalidation_rules.id", ondelete="SET NULL"
    )


class RuleKind(StrEnum):
    DOMAIN = "domain"
    WINDOW = "window"
    PATTERN = "pattern"


class InvalidationRule(SQLModel, table=True):
    """A bulk invalidation an organiser ran: what it matched, how many, and if it was undone."""

    __tablename__ = "invalidation_rules"
    __table_args__ = (Index("ix_invalidation_rules_letter_created", "letter_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    organiser_id: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    kind: RuleKind = Field(sa_column=Column(string_enum(RuleKind), nullable=False))
    # What the organiser typed, as shown back to them: a domain, a window or a name fragment.
    description: str = Field(max_length=300)
    reason: str = Field(default="", max_length=200)
    invalidated: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reversed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
