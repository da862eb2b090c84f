"""PDF exports: one export of a letter, the chunks of its signatory list, one file per recipient.

Chunks themselves live on disk (``Settings.pdf_storage_path / "chunks"``), named by the hash of
exactly what they contain, so a later export reuses every chunk whose names did not change; the
``pdf_export_chunks`` rows only say which cached chunk fills which place in this export.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, string_enum, utcnow
from app.letters import models as _letters  # noqa: F401 - tables our foreign keys name
from app.organisers import models as _organisers  # noqa: F401
from app.signatures.models import Signature

# The order of the delivered list: by confirmation, then id. Every signature that was ever
# confirmed keeps its place (withdrawn and invalidated ones keep ``confirmed_at``), so new
# signatures only add to the tail and a chunk's boundaries never move. Declared here, next
# to its only reader, rather than in the signatures feature.
SIGNATURES_LIST_ORDER_INDEX = Index(
    "ix_signatures_letter_confirmed_id",
    Signature.__table__.c.letter_id,  # type: ignore[attr-defined]
    Signature.__table__.c.confirmed_at,  # type: ignore[attr-defined]
    Signature.__table__.c.id,  # type: ignore[attr-defined]
)


class PdfExportState(StrEnum):
    QUEUED = "queued"  # waiting for the planning job
    RENDERING = "rendering"  # chunks being rendered (or found in the cache)
    MERGING = "merging"  # one file per recipient being assembled
    DONE = "done"
    FAILED = "failed"


class PdfExport(SQLModel, table=True):
    __tablename__ = "pdf_exports"
    __table_args__ = (Index("ix_pdf_exports_letter_created", "letter_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", ondelete="CASCADE")
    # The organiser who asked for it; None when started from the command line.
    requested_by: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    state: PdfExportState = Field(
        default=PdfExportState.QUEUED,
        sa_column=Column(string_enum(PdfExportState), nullable=False),
    )
    chunks_total: int = 0
    chunks_done: int = 0
    # Pages of the list rendered so far, of the pages every file will have (an estimate until
    # the chunks are done, then exact for the longest file).
    pages_total: int = 0
    pages_done: int = 0
    files_total: int = 0
    files_done: int = 0
    # The summary printed in the letter, fixed when the export is planned: N counts every
    # confirmed signature (paper ones included), M the countries given.
    signature_count: int = 0
    named_count: int = 0
    country_count: int = 0
    first_signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PdfExportChunk(SQLModel, table=True):
    """One place in an export's list: a run of the list order, and the cached file for it."""

    __tablename__ = "pdf_export_chunks"
    __table_args__ = (
        UniqueConstraint("export_id", "position", name="uq_pdf_export_chunks_export_position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    export_id: int = Field(foreign_key="pdf_exports.id", ondelete="CASCADE")
    position: int
    # The run, inclusive at both ends, in the list order (confirmed_at, id).
    first_confirmed_at: datetime = Field(sa_type=UTCDateTime)
    first_signature_id: int
    last_confirmed_at: datetime = Field(sa_type=UTCDateTime)
    last_signature_id: int
    # SHA-256 of exactly what the chunk shows (names, order, template version): its file name.
    content_hash: str = Field(max_length=64)
    names: int = 0
    pages: int | None = None
    # Whether it was rendered for this export (False: found in the cache), and by which
    # worker process (host:pid), for the record.
    rendered: bool = False
    rendered_by: str = Field(default="", max_length=100)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PdfFile(SQLModel, table=True):
    """The letter as delivered to one recipient; its code is printed in every page's footer."""

    __tablename__ = "pdf_files"
    __table_args__ = (Index("ix_pdf_files_export", "export_id"),)

    id: int | None = Field(default=None, primary_key=True)
    export_id: int = Field(foreign_key="pdf_exports.id", ondelete="CASCADE")
    recipient_id: int | None = Field(default=None, foreign_key="recipients.id", ondelete="SET NULL")
    # Kept as printed, so the verify page still says to whom it went if the recipient changes.
    recipient_name: str = Field(default="", max_length=200)
    recipient_title: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=12)
    verification_code: str = Field(max_length=32, unique=True)
    # Relative to Settings.pdf_storage_path; empty until the file is written.
    path: str = Field(default="", max_length=300)
    sha256: str = Field(default="", max_length=64)
    size: int = 0
    pages: int = 0
    signature_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
