"""Helpers for the PDF trust tests: a finished export written as the merge job leaves it (rows
through the service API, the file on disk), without rendering anything."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from reportlab.pdfgen import canvas
from sqlalchemy import Engine, update
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf.models import PdfExport, PdfExportState, PdfFile
from app.exports.pdf.service import start_export
from app.letters.models import Letter, Recipient


def small_pdf(text: str = "To the President: signed by 1,234 people.") -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def letter_id_of(engine: Engine, slug: str) -> int:
    with open_session(engine) as session:
        letter_id = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        assert letter_id is not None
        return letter_id


def recipient_ids(engine: Engine, slug: str) -> list[int]:
    with open_session(engine) as session:
        query = (
            select(Recipient.id)
            .join(Letter, col(Letter.id) == col(Recipient.letter_id))
            .where(Letter.slug == slug)
            .order_by(col(Recipient.position), col(Recipient.id))
        )
        return [rid for rid in session.exec(query) if rid is not None]


def finish_export(
    engine: Engine, settings: Settings, export_id: int, contents: dict[int, bytes] | None = None
) -> None:
    """Write each file of the export (``contents`` by recipient id, else a small PDF) and mark
    the files and the export done, as the merge job does."""
    with open_session(engine, write=True) as session:
        files = list(session.exec(select(PdfFile).where(PdfFile.export_id == export_id)))
        for file in files:
            data = (contents or {}).get(file.recipient_id or 0) or small_pdf(file.recipient_name)
            relative = f"files/{export_id}/{file.id}.pdf"
            target = settings.pdf_storage_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            session.execute(
                update(PdfFile)
                .where(col(PdfFile.id) == file.id)
                .values(
                    path=relative,
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                    pages=1,
                    signature_count=1234,
                    finished_at=utcnow(),
                )
            )
        session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == export_id)
            .values(
                state=PdfExportState.DONE,
                signature_count=1234,
                files_done=len(files),
                finished_at=utcnow(),
            )
        )
        session.commit()


def exported(
    engine: Engine,
    settings: Settings,
    slug: str,
    *,
    recipients: list[int] | None = None,
    contents: dict[int, bytes] | None = None,
    requested_by: int | None = None,
) -> tuple[int, list[PdfFile]]:
    with open_session(engine, write=True) as session:
        export_id = start_export(
            session,
            letter_id=letter_id_of(engine, slug),
            recipient_ids=recipients,
            requested_by=requested_by,
        )
        session.commit()
    finish_export(engine, settings, export_id, contents)
    return export_id, files_of(engine, export_id)


def files_of(engine: Engine, export_id: int) -> list[PdfFile]:
    with open_session(engine) as session:
        query = select(PdfFile).where(PdfFile.export_id == export_id).order_by(col(PdfFile.id))
        return list(session.exec(query))


def stored_path(settings: Settings, file: PdfFile) -> Path:
    return settings.pdf_storage_path / file.path
