"""The signature table: one row per letter and mailbox, found by a keyed hash, never by address.

The address itself is stored only encrypted (``email_encrypted``); duplicates are found through
``email_hash``, an HMAC of the canonical address that is unique per letter. Withdrawing erases
the address, both hashes, the name, the place and the consent to be contacted: what remains
is that a signature once counted.

Offline signatures (``source = offline``: gathered on paper or by a trusted collector, entered
by an organiser) never have an address or its hashes; each names the attestation saying who
collected it, how and when, and, when it came from a CSV file, the import it came in. Withdrawn
signatures have no address either: tell them apart by ``source`` and ``state``, never by a
missing address.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint
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


class SignatureSource(StrEnum):
    ONLINE = "online"  # signed on the site and confirmed from a mailbox
    OFFLINE = "offline"  # gathered on paper or by a trusted collector; entered by an organiser


# An offline signature has no address, no hash of one, and always its attestation.
OFFLINE_WITHOUT_ADDRESS = (
    "source = 'online' OR (email_encrypted IS NULL AND email_hash IS NULL"
    " AND email_domain_hash IS NULL AND attestation_id IS NOT NULL)"
)


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
        # Offline signatures: counted apart (dashboard), and by import (undoing one).
        Index("ix_signatures_letter_source_state", "letter_id", "source", "state"),
        Index("ix_signatures_offline_import_id", "offline_import_id"),
        CheckConstraint(OFFLINE_WITHOUT_ADDRESS, name="offline_without_address"),
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
    source: SignatureSource = Field(
        default=SignatureSource.ONLINE,
        sa_column=Column(
            string_enum(SignatureSource),
            nullable=False,
            default=SignatureSource.ONLINE.value,
            server_default=SignatureSource.ONLINE.value,
        ),
    )
    # Offline signatures only: who collected it, how, when; and the CSV import it came in.
    attestation_id: int | None = Field(default=None, foreign_key="attestations.id")
    offline_import_id: int | None = Field(default=None, foreign_key="offline_imports.id")


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


class Attestation(SQLModel, table=True):
    """Who collected offline signatures, how and when, as the organiser who entered them
    recorded it."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_letter_id_id", "letter_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    collector: str = Field(max_length=200)
    method: str = Field(max_length=200)
    collected_from: date
    collected_until: date | None = None  # a range; None for a single day
    note: str = Field(default="", max_length=1000)
    organiser_id: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OfflineImport(SQLModel, table=True):
    """One CSV file imported into a letter: its signatures can be taken out together, and the
    file's hash warns before the same file is imported twice."""

    __tablename__ = "offline_imports"
    __table_args__ = (Index("ix_offline_imports_letter_sha256", "letter_id", "file_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    attestation_id: int = Field(foreign_key="attestations.id")
    organiser_id: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    file_name: str = Field(default="", max_length=200)
    file_sha256: str = Field(max_length=64)
    rows: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Undone: its signatures were deleted; the record stays for the audit.
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    undone_count: int = 0
