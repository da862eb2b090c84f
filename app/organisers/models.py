"""Organiser accounts, who organises which letter, one-time sign-in links, and the audit log.

An organiser's address is kept like a signer's: encrypted, and found by a keyed hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class Organiser(SQLModel, table=True):
    __tablename__ = "organisers"

    id: int | None = Field(default=None, primary_key=True)
    # Carried in the session cookie; never the row id, never the address.
    public_id: str = Field(max_length=32, unique=True)
    email_hash: str = Field(max_length=64, unique=True)
    email_encrypted: str = Field(max_length=512)
    is_admin: bool = False
    # Raised to end every session at once (signing out ends them all).
    session_version: int = 0
    # The authenticator app's secret (encrypted), and the last time step a code was used in,
    # so a code works once.
    totp_secret_encrypted: str | None = Field(default=None, max_length=256)
    totp_last_step: int = -1
    # Wrong codes since the last right one; too many void the half-finished sign-in.
    second_factor_failures: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LetterOrganiser(SQLModel, table=True):
    """An organiser who may see and change a letter (its creator, or a co-organiser)."""

    __tablename__ = "letter_organisers"

    letter_id: int = Field(foreign_key="letters.id", primary_key=True, ondelete="CASCADE")
    organiser_id: int = Field(
        foreign_key="organisers.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SignInLink(SQLModel, table=True):
    """One emailed sign-in link: single use, enforced by ``used_at``."""

    __tablename__ = "sign_in_links"
    __table_args__ = (Index("ix_sign_in_links_organiser_created", "organiser_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    organiser_id: int = Field(foreign_key="organisers.id", ondelete="CASCADE")
    nonce: str = Field(max_length=32, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Who changed what, when. Kept when the organiser is removed (who becomes unknown)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_letter_created", "letter_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    organiser_id: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    letter_id: int | None = Field(default=None, foreign_key="letters.id", ondelete="CASCADE")
    action: str = Field(max_length=60)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WorkspacePolicy(SQLModel, table=True):
    """Rules an admin sets for every organiser: one row."""

    __tablename__ = "workspace_policy"

    id: int = Field(default=1, primary_key=True)
    require_second_factor: bool = False
