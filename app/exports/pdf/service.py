"""What other features call: start an export, follow it, list its files, find one by its code.

An export is planned, rendered and merged by jobs (``app.exports.pdf.jobs``), never in a
request: ``start_export`` only writes the rows and enqueues the first job, in the caller's
transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from app.config import Settings
from app.exports.pdf.models import PdfExport, PdfExportState, PdfFile
from app.jobs.service import enqueue
from app.letters.models import Letter, Recipient

PLAN = "pdf.plan"
RENDER_CHUNK = "pdf.chunk"
ASSEMBLE_LIST = "pdf.list"
MERGE_FILE = "pdf.merge"
JOB_KINDS = (PLAN, RENDER_CHUNK, ASSEMBLE_LIST, MERGE_FILE)

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits: not guessable, short enough to type from a printed footer


class ExportRefused(Exception):
    """The export cannot start; the message says why, for a person to read."""


class ExportNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ExportProgress:
    id: int
    letter_id: int
    requested_by: int | None
    state: PdfExportState
    chunks_total: int
    chunks_done: int
    pages_total: int
    pages_done: int
    files_total: int
    files_done: int
    signature_count: int
    error: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in (PdfExportState.DONE, PdfExportState.FAILED)

    @property
    def percent(self) -> int:
        """Rough progress for a bar: the list's pages weigh 90 %, the files' assembly 10 %."""
        if self.state is PdfExportState.DONE:
            return 100
        pages = self.pages_done / self.pages_total if self.pages_total else 0.0
        files = self.files_done / self.files_total if self.files_total else 0.0
        return min(99, int(90 * min(pages, 1.0) + 10 * files))


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: int
    export_id: int
    letter_id: int
    letter_slug: str
    letter_title: str
    recipient_id: int | None
    recipient_name: str
    recipient_title: str
    language: str
    verification_code: str
    path: str  # relative to Settings.pdf_storage_path; empty until finished
    sha256: str
    size: int
    pages: int
    signature_count: int
    created_at: datetime
    finished_at: datetime | None

    def absolute_path(self, settings: Settings) -> Path:
        return settings.pdf_storage_path / self.path


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normal_code(typed: str) -> str | None:
    """A code as typed (any case, spaces or dashes, O for 0, I or L for 1) in its stored form."""
    cleaned = re.sub(r"[\s\-]", "", typed.upper()).translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"


def start_export(
    session: Session,
    *,
    letter_id: int,
    recipient_ids: list[int] | None,
    requested_by: int | None,
) -> int:
    """Queue an export of the letter for these recipients (None: all of them); its id."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise ExportRefused("There is no such letter.")
    query = select(Recipient).where(Recipient.letter_id == letter_id)
    recipients = list(session.exec(query.order_by(col(Recipient.position), col(Recipient.id))))
    if recipient_ids is not None:
        wanted = set(recipient_ids)
        unknown = wanted - {recipient.id for recipient in recipients}
        if unknown:
            raise ExportRefused(
                "Not a recipient of this letter: " + ", ".join(str(i) for i in sorted(unknown))
            )
        recipients = [recipient for recipient in recipients if recipient.id in wanted]
    if not recipients:
        raise ExportRefused("The letter has no recipients: add one before exporting it.")
    export = PdfExport(letter_id=letter_id, requested_by=requested_by, files_total=len(recipients))
    session.add(export)
    session.flush()
    assert export.id is not None
    for recipient in recipients:
        session.add(
            PdfFile(
                export_id=export.id,
                recipient_id=recipient.id,
                recipient_name=recipient.name,
                recipient_title=recipient.title,
                language=recipient.language or letter.language,
                verification_code=new_verification_code(),
            )
        )
    session.flush()
    enqueue(session, kind=PLAN, ref_id=export.id)
    return export.id


def _progress(export: PdfExport) -> ExportProgress:
    assert export.id is not None
    return ExportProgress(
        id=export.id,
        letter_id=export.letter_id,
        requested_by=export.requested_by,
        state=export.state,
        chunks_total=export.chunks_total,
        chunks_done=export.chunks_done,
        pages_total=export.pages_total,
        pages_done=export.pages_done,
        files_total=export.files_total,
        files_done=export.files_done,
        signature_count=export.signature_count,
        error=export.error,
        created_at=export.created_at,
        finished_at=export.finished_at,
    )


def export_progress(session: Session, export_id: int) -> ExportProgress:
    export = session.get(PdfExport, export_id)
    if export is None:
        raise ExportNotFound(export_id)
    session.refresh(export)  # progress is written by other processes
    return _progress(export)


def latest_exports(session: Session, *, letter_id: int, limit: int = 10) -> list[ExportProgress]:
    query = (
        select(PdfExport)
        .where(PdfExport.letter_id == letter_id)
        .order_by(col(PdfExport.created_at).desc(), col(PdfExport.id).desc())
        .limit(limit)
    )
    return [_progress(export) for export in session.exec(query)]


def _file_info(file: PdfFile, letter: Letter) -> FileInfo:
    assert file.id is not None and letter.id is not None
    return FileInfo(
        id=file.id,
        export_id=file.export_id,
        letter_id=letter.id,
        letter_slug=letter.slug,
        letter_title=letter.title,
        recipient_id=file.recipient_id,
        recipient_name=file.recipient_name,
        recipient_title=file.recipient_title,
        language=file.language,
        verification_code=file.verification_code,
        path=file.path,
        sha256=file.sha256,
        size=file.size,
        pages=file.pages,
        signature_count=file.signature_count,
        created_at=file.created_at,
        finished_at=file.finished_at,
    )


def files_for(session: Session, export_id: int) -> list[FileInfo]:
    """Every file of the export, finished or not, in the recipients' order."""
    query = (
        select(PdfFile, Letter)
        .join(PdfExport, col(PdfExport.id) == col(PdfFile.export_id))
        .join(Letter, col(Letter.id) == col(PdfExport.letter_id))
        .where(PdfFile.export_id == export_id)
        .order_by(col(PdfFile.id))
    )
    return [_file_info(file, letter) for file, letter in session.exec(query)]


def find_file_by_code(session: Session, *, slug: str, code: str) -> FileInfo | None:
    """The finished file of this letter with this verification code (as typed), or None."""
    normal = normal_code(code)
    if normal is None:
        return None
    query = (
        select(PdfFile, Letter)
        .join(PdfExport, col(PdfExport.id) == col(PdfFile.export_id))
        .join(Letter, col(Letter.id) == col(PdfExport.letter_id))
        .where(PdfFile.verification_code == normal)
        .where(Letter.slug == slug)
        .where(col(PdfFile.finished_at).is_not(None))
    )
    found = session.exec(query).first()
    return None if found is None else _file_info(*found)
