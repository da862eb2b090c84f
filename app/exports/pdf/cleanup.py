"""Retention of PDF letters (a recurring job, hourly).

- A finished export's files are deleted ``PDF_KEEP_DAYS`` after it finished; its rows stay, so
  the verify page still answers for the codes printed in delivered letters (date, recipient,
  count, SHA-256), and the export page says the files were removed.
- A failed export's parts are deleted at once.
- A cached chunk is deleted once no running export and no export whose files are still kept
  uses it. Chunks hold names: one that lost a withdrawn name must not outlive the files that
  printed it. A chunk file touched in the last hour is always kept (an export being planned may
  have just found it); planning touches every chunk it reuses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, or_, update
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf import storage
from app.exports.pdf.models import PdfExport, PdfExportChunk, PdfExportState, PdfFile
from app.jobs.worker import ClaimedJob, JobContext, Outcome

log = logging.getLogger(__name__)

CLEANUP = "pdf.cleanup"
# A chunk or part file written or reused this recently is never deleted.
GRACE_SECONDS = 3600.0
ENDED = (PdfExportState.DONE, PdfExportState.FAILED)
# What the storage holds of ours (app/exports/pdf/storage.py, render.render_chunk_file).
CHUNK_FILE = re.compile(r"(?P<digest>[0-9a-f]{64})\.pdf(?P<part>\.\d+\.part)?")
EXPORT_FOLDER = re.compile(r"[0-9]{1,18}")


def clean_up(context: JobContext, job: ClaimedJob) -> Outcome:
    removed_files, removed_chunks = clean_up_storage(context.settings, context.engine)
    if removed_files or removed_chunks:
        log.info(
            "pdf: deleted %s expired export(s) and %s unused chunk(s)",
            removed_files,
            removed_chunks,
        )
    return Outcome.DONE


def clean_up_storage(settings: Settings, engine: Engine) -> tuple[int, int]:
    """Expired exports' files and unused chunks; how many of each were deleted."""
    cutoff = utcnow() - timedelta(days=settings.pdf_keep_days)
    with open_session(engine, write=True) as session:
        expired = list(
            session.exec(
                select(PdfExport.id)
                .where(col(PdfExport.state).in_(ENDED))
                .where(
                    or_(
                        col(PdfExport.state) == PdfExportState.FAILED,
                        col(PdfExport.finished_at) < cutoff,
                    )
                )
                .where(
                    # not yet cleaned: it still has chunk rows or a stored file
                    or_(
                        col(PdfExport.id).in_(select(PdfExportChunk.export_id)),
                        col(PdfExport.id).in_(
                            select(PdfFile.export_id).where(col(PdfFile.path) != "")
                        ),
                    )
                )
            )
        )
        if expired:
            session.execute(
                update(PdfFile).where(col(PdfFile.export_id).in_(expired)).values(path="")
            )
            session.execute(
                delete(PdfExportChunk).where(col(PdfExportChunk.export_id).in_(expired))
            )
        used = set(session.exec(select(PdfExportChunk.content_hash).distinct()))
        known = set(session.exec(select(PdfExport.id)))
        session.commit()
    # Files go after the rows say they are gone: a download then finds no path, never half
    # a file.
    for export_id in expired:
        shutil.rmtree(storage.export_dir(settings, export_id or 0), ignore_errors=True)
    exports = settings.pdf_storage_path / "exports"
    if exports.is_dir():  # folders of exports whose rows are gone (a deleted letter)
        for folder in exports.iterdir():
            if (
                EXPORT_FOLDER.fullmatch(folder.name)
                and int(folder.name) not in known
                and _old(folder)
            ):
                shutil.rmtree(folder, ignore_errors=True)
    return len(expired), _remove_unused_chunks(settings, used)


def _remove_unused_chunks(settings: Settings, used: set[str]) -> int:
    """Only our own files: ``ab/<sha256>.pdf`` and their ``.part`` leftovers, in real folders
    (a symlink is never followed: what it points to is not ours to delete)."""
    removed = 0
    chunks = settings.pdf_storage_path / "chunks"
    if chunks.is_symlink() or not chunks.is_dir():
        return 0
    for folder in chunks.iterdir():
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = CHUNK_FILE.fullmatch(path.name)
            if match is None or path.is_symlink() or not _old(path):
                continue
            if match["part"] or match["digest"] not in used:
                path.unlink(missing_ok=True)
                removed += not match["part"]
    return removed


def _old(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > GRACE_SECONDS
    except FileNotFoundError:
        return False


def touch(path: Path) -> None:
    """Mark a cached chunk as just used (see the module's docstring)."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)
