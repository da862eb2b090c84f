"""Retention of PDF letters: files deleted PDF_KEEP_DAYS after their export (the codes still
verify), failed exports' parts at once, and cached chunks once nothing kept uses them, so a
withdrawn name does not outlive the files that printed it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf import storage
from app.exports.pdf.cleanup import GRACE_SECONDS, clean_up_storage
from app.exports.pdf.models import PdfExport, PdfExportChunk, PdfExportState
from app.exports.pdf.service import files_for
from app.signatures import moderation
from tests.exports.test_pdf import pdf_settings, recipient_id, run_export
from tests.helpers import add_signature


def chunk_files(settings: Settings) -> set[str]:
    return {path.stem for path in (settings.pdf_storage_path / "chunks").glob("*/*.pdf")}


def chunk_hashes(engine: Engine, export_id: int) -> list[str]:
    with open_session(engine) as session:
        query = select(PdfExportChunk.content_hash).where(PdfExportChunk.export_id == export_id)
        return list(session.exec(query.order_by(col(PdfExportChunk.position))))


def age_everything(settings: Settings) -> None:
    """Every stored file last touched longer ago than the grace period."""
    past = time.time() - GRACE_SECONDS - 60
    for path in settings.pdf_storage_path.rglob("*"):
        os.utime(path, (past, past))


def finished_days_ago(engine: Engine, export_id: int, days: float) -> None:
    with open_session(engine, write=True) as session:
        session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == export_id)
            .values(finished_at=utcnow() - timedelta(days=days))
        )
        session.commit()


def test_expired_files_and_the_chunks_only_they_used_go_and_the_codes_still_verify(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    signers = [
        add_signature(engine, letter_slug, name=f"Keeper Number{n:02d}", email=f"k{n}@example.org")
        for n in range(30)
    ]
    settings = pdf_settings(settings, chunk_size=10)
    recipients = [recipient_id(engine, "António Costa")]
    first = run_export(engine, settings, slug=letter_slug, recipients=recipients)
    gone = signers[15]  # the second chunk loses a name
    with open_session(engine, write=True) as session:
        moderation.invalidate(
            session, letter_id=gone.letter_id, signature_id=gone.id or 0, reason="duplicate"
        )
        session.commit()
    second = run_export(engine, settings, slug=letter_slug, recipients=recipients)
    old_hashes, new_hashes = chunk_hashes(engine, first), chunk_hashes(engine, second)
    [stale] = set(old_hashes) - set(new_hashes)  # the chunk still naming the invalidated one
    assert chunk_files(settings) == set(old_hashes) | set(new_hashes)

    # Nothing is old enough yet: both exports' files and every chunk stay.
    age_everything(settings)
    assert clean_up_storage(settings, engine) == (0, 0)
    assert stale in chunk_files(settings)

    # The first export passes its keeping time: its files and the stale chunk go.
    finished_days_ago(engine, first, settings.pdf_keep_days + 1)
    assert clean_up_storage(settings, engine) == (1, 1)
    assert chunk_files(settings) == set(new_hashes)
    assert not storage.export_dir(settings, first).exists()
    with open_session(engine) as session:
        [old_file] = files_for(session, first)
        [new_file] = files_for(session, second)
    assert old_file.path == "" and old_file.sha256  # the verify page still knows it
    assert new_file.absolute_path(settings).is_file()
    assert clean_up_storage(settings, engine) == (0, 0)  # done once

    # A third export reuses the kept chunks (found in the cache, none rendered).
    third = run_export(engine, settings, slug=letter_slug, recipients=recipients)
    assert chunk_hashes(engine, third) == new_hashes
    with open_session(engine) as session:
        rendered = session.exec(
            select(PdfExportChunk.rendered).where(PdfExportChunk.export_id == third)
        ).all()
    assert not any(rendered)


def test_a_chunk_no_export_uses_is_kept_while_recent_and_a_failed_export_goes_at_once(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    add_signature(engine, letter_slug, name="Only Signer", email="o@example.org")
    recipients = [recipient_id(engine, "António Costa")]
    export_id = run_export(engine, settings, slug=letter_slug, recipients=recipients)
    with open_session(engine, write=True) as session:
        session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == export_id)
            .values(state=PdfExportState.FAILED)
        )
        session.commit()
    [digest] = chunk_hashes(engine, export_id)
    stray = storage.export_dir(settings, 9999)  # an export whose row is gone
    stray.mkdir(parents=True)
    (stray / "list.pdf").write_bytes(b"%PDF-")

    # Failed: its files go at once; the chunk, written just now, stays for the grace period.
    assert clean_up_storage(settings, engine) == (1, 0)
    assert not storage.export_dir(settings, export_id).exists()
    assert chunk_files(settings) == {digest} and stray.exists()

    age_everything(settings)
    assert clean_up_storage(settings, engine) == (0, 1)
    assert chunk_files(settings) == set() and not stray.exists()


def test_only_our_own_files_are_ever_deleted(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A symlink in the storage folder is never followed, a file not named as a chunk is not a
    chunk, and an odd folder name stops nothing."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (outside / "notes.pdf").write_bytes(b"%PDF-")
    chunks = settings.pdf_storage_path / "chunks"
    (chunks / "ab").mkdir(parents=True)
    (chunks / "zz").symlink_to(outside, target_is_directory=True)
    unused = chunks / "ab" / f"{'ab' * 32}.pdf"
    unused.write_bytes(b"%PDF-")
    leftover = chunks / "ab" / f"{'ab' * 32}.pdf.123.part"
    leftover.write_bytes(b"%PDF-")
    stranger = chunks / "ab" / "readme.txt"
    stranger.write_text("not a chunk")
    linked = chunks / "ab" / f"{'cd' * 32}.pdf"
    linked.symlink_to(outside / "notes.pdf")
    exports = settings.pdf_storage_path / "exports"
    (exports / "\u00b2").mkdir(parents=True)  # "²".isdigit() is true; int("²") fails
    (exports / "77").symlink_to(outside, target_is_directory=True)
    age_everything(settings)
    past = time.time() - GRACE_SECONDS - 60
    for path in outside.iterdir():
        os.utime(path, (past, past))

    assert clean_up_storage(settings, engine) == (0, 1)
    assert not unused.exists() and not leftover.exists()
    assert stranger.exists() and linked.is_symlink()
    assert sorted(path.name for path in outside.iterdir()) == ["notes.pdf", "precious.txt"]
    assert (exports / "\u00b2").is_dir()
