"""The export's jobs. Any worker process, on any machine sharing the database and the storage
folder, may take any of them:

1. ``pdf.plan`` (per export): one keyset pass over the list; a chunk row per place range,
   cached chunks marked done at once, a ``pdf.chunk`` job for each other one.
2. ``pdf.chunk`` (per chunk): render it into the cache; the last one queues ``pdf.list``.
3. ``pdf.list`` (per export): the chunks joined into one unnumbered list, once.
4. ``pdf.merge`` (per recipient): front matter, list, closing page, footer and page numbers;
   through ``sign_pdf``; stored and hashed. The last one finishes the export.

Each step changes its row only if it is still in the state it expects (a fence against a job
run twice after a lost lease), and counts with ``UPDATE ... RETURNING``, so exactly one chunk
job sees the last chunk done.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Callable
from typing import Any

import pikepdf
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf import cleanup, merge, storage
from app.exports.pdf.documents import (
    FrontMatter,
    Summary,
    first_signatories,
    letter_text_for,
    recipient_block,
    supporting_statements,
)
from app.exports.pdf.isolation import run_limited
from app.exports.pdf.models import PdfExport, PdfExportChunk, PdfExportState, PdfFile
from app.exports.pdf.plan import chunk_entries, content_hash, plan_list
from app.exports.pdf.render import render_chunk_file, render_parts
from app.exports.pdf.service import ASSEMBLE_LIST, MERGE_FILE, PLAN, RENDER_CHUNK
from app.exports.pdf.signing import sign_pdf
from app.jobs.models import Job
from app.jobs.worker import ClaimedJob, JobContext, Outcome, describe_failure
from app.letters.models import Letter, Recipient

# Rendering is retried a couple of times (a busy machine may miss a time limit), not twelve.
MAX_ATTEMPTS = 3
# A first guess of list pages, until the chunks say.
NAMES_PER_PAGE_GUESS = 160


def queue(session: Session, *, kind: str, ref_id: int) -> None:
    """Enqueue inside the caller's transaction, as ``app.jobs.service.enqueue`` does, with
    fewer attempts."""
    now = utcnow()
    session.add(
        Job(kind=kind, ref_id=ref_id, run_at=now, created_at=now, max_attempts=MAX_ATTEMPTS)
    )


def _guarded(
    handler: Callable[[JobContext, ClaimedJob], Outcome],
    export_of: Callable[[Session, int], int | None],
) -> Callable[[JobContext, ClaimedJob], Outcome]:
    """Mark the export failed when one of its jobs fails for good, so nobody waits forever."""

    def run(context: JobContext, job: ClaimedJob) -> Outcome:
        try:
            return handler(context, job)
        except Exception as exc:
            if getattr(exc, "permanent", False) or job.attempts >= job.max_attempts:
                with open_session(context.engine, write=True) as session:
                    export_id = export_of(session, job.ref_id or 0)
                    if export_id is not None:
                        session.execute(
                            update(PdfExport)
                            .where(col(PdfExport.id) == export_id)
                            .where(col(PdfExport.state) != PdfExportState.DONE)
                            .values(
                                state=PdfExportState.FAILED,
                                error=f"{job.kind}: {describe_failure(exc)}",
                                finished_at=utcnow(),
                            )
                        )
                    session.commit()
            raise

    run.__name__ = handler.__name__
    return run


def _export_itself(session: Session, ref_id: int) -> int | None:
    return ref_id


def _export_of_chunk(session: Session, ref_id: int) -> int | None:
    chunk = session.get(PdfExportChunk, ref_id)
    return None if chunk is None else chunk.export_id


def _export_of_file(session: Session, ref_id: int) -> int | None:
    file = session.get(PdfFile, ref_id)
    return None if file is None else file.export_id


def _live(export: PdfExport | None, state: PdfExportState) -> bool:
    return export is not None and export.state is state


# -- 1. plan ------------------------------------------------------------------------------


def _plan(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    with open_session(context.engine) as session:
        export = session.get(PdfExport, job.ref_id)
        if export is None or export.state is not PdfExportState.QUEUED:
            return Outcome.DROPPED
        letter = session.get(Letter, export.letter_id)
        assert letter is not None
        plan = plan_list(
            session,
            letter_id=letter.id or 0,
            chunk_size=settings.pdf_chunk_size,
            language=letter.language,
        )
    cached: dict[int, int] = {}
    for chunk in plan.chunks:
        path = storage.chunk_path(settings, chunk.content_hash)
        if path.exists():
            cleanup.touch(path)  # in use again: kept by the retention job
            cached[chunk.position] = _page_count(path)
    with open_session(context.engine, write=True) as session:
        moved = session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == job.ref_id)
            .where(col(PdfExport.state) == PdfExportState.QUEUED)
            .values(
                state=PdfExportState.RENDERING,
                chunks_total=len(plan.chunks),
                chunks_done=len(cached),
                pages_done=sum(cached.values()),
                pages_total=sum(cached.values())
                + sum(
                    chunk.names // NAMES_PER_PAGE_GUESS + 1
                    for chunk in plan.chunks
                    if chunk.position not in cached
                ),
                signature_count=plan.signature_count,
                named_count=plan.named_count,
                country_count=len(plan.countries),
                first_signed_at=plan.first_signed_at,
                last_signed_at=plan.last_signed_at,
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return Outcome.DROPPED
        now = utcnow()
        rows = [
            PdfExportChunk(
                export_id=job.ref_id or 0,
                position=chunk.position,
                first_confirmed_at=chunk.first[0],
                first_signature_id=chunk.first[1],
                last_confirmed_at=chunk.last[0],
                last_signature_id=chunk.last[1],
                content_hash=chunk.content_hash,
                names=chunk.names,
                pages=cached.get(chunk.position),
                done_at=now if chunk.position in cached else None,
            )
            for chunk in plan.chunks
        ]
        session.add_all(rows)
        session.flush()
        for row in rows:
            if row.done_at is None:
                queue(session, kind=RENDER_CHUNK, ref_id=row.id or 0)
        if len(cached) == len(plan.chunks):
            queue(session, kind=ASSEMBLE_LIST, ref_id=job.ref_id or 0)
        session.commit()
    return Outcome.DONE


def _page_count(path: Any) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


# -- 2. chunks ----------------------------------------------------------------------------


def _render_chunk(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    with open_session(context.engine) as session:
        chunk = session.get(PdfExportChunk, job.ref_id)
        if chunk is None or chunk.done_at is not None:
            return Outcome.DROPPED
        export = session.get(PdfExport, chunk.export_id)
        if export is None or not _live(export, PdfExportState.RENDERING):
            return Outcome.DROPPED
        letter = session.get(Letter, export.letter_id)
        assert letter is not None
        language = letter.language
        # What the chunk shows now: a name withdrawn since the plan is left out here too.
        entries = chunk_entries(
            session,
            letter_id=export.letter_id,
            first=(chunk.first_confirmed_at, chunk.first_signature_id),
            last=(chunk.last_confirmed_at, chunk.last_signature_id),
        )
    heading = chunk.position == 0
    digest = content_hash(entries, language=language, heading=heading)
    path = storage.chunk_path(settings, digest)
    rendered = False
    if not entries:
        pages = 0
    elif path.exists():
        cleanup.touch(path)
        pages = _page_count(path)
    else:
        pages = run_limited(
            render_chunk_file,
            entries,
            language,
            heading,
            str(path),
            seconds=settings.pdf_render_timeout_seconds,
            memory_mb=settings.pdf_render_memory_mb,
        )
        rendered = True
    with open_session(context.engine, write=True) as session:
        marked = session.execute(
            update(PdfExportChunk)
            .where(col(PdfExportChunk.id) == chunk.id)
            .where(col(PdfExportChunk.done_at).is_(None))
            .values(
                done_at=utcnow(),
                pages=pages,
                content_hash=digest,
                rendered=rendered,
                rendered_by=f"{socket.gethostname()}:{os.getpid()}"[:100] if rendered else "",
                names=len(entries),
            )
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            return Outcome.DROPPED
        done, total = session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == chunk.export_id)
            .values(
                chunks_done=col(PdfExport.chunks_done) + 1,
                pages_done=col(PdfExport.pages_done) + pages,
            )
            .returning(col(PdfExport.chunks_done), col(PdfExport.chunks_total))
        ).one()
        if done == total:
            queue(session, kind=ASSEMBLE_LIST, ref_id=chunk.export_id)
        session.commit()
    return Outcome.DONE


# -- 3. the list, once --------------------------------------------------------------------


def _assemble_list(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    with open_session(context.engine) as session:
        export = session.get(PdfExport, job.ref_id)
        if not _live(export, PdfExportState.RENDERING):
            return Outcome.DROPPED
        chunks = list(
            session.exec(
                select(PdfExportChunk)
                .where(PdfExportChunk.export_id == job.ref_id)
                .order_by(col(PdfExportChunk.position))
            )
        )
        file_ids = list(session.exec(select(PdfFile.id).where(PdfFile.export_id == job.ref_id)))
    paths = [storage.chunk_path(settings, chunk.content_hash) for chunk in chunks if chunk.pages]
    target = storage.list_path(settings, job.ref_id or 0)
    target.parent.mkdir(parents=True, exist_ok=True)
    pages = merge.assemble_list(paths, target) if paths else 0
    with open_session(context.engine, write=True) as session:
        moved = session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == job.ref_id)
            .where(col(PdfExport.state) == PdfExportState.RENDERING)
            .values(state=PdfExportState.MERGING, pages_total=pages, pages_done=pages)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return Outcome.DROPPED
        for file_id in file_ids:
            queue(session, kind=MERGE_FILE, ref_id=file_id or 0)
        session.commit()
    return Outcome.DONE


# -- 4. one file per recipient ------------------------------------------------------------


def front_matter(
    session: Session, *, settings: Settings, export: PdfExport, file: PdfFile
) -> FrontMatter:
    letter = session.get(Letter, export.letter_id)
    assert letter is not None and letter.id is not None
    recipient = session.get(Recipient, file.recipient_id) if file.recipient_id else None
    if recipient is None:  # removed since: what was recorded when the export started
        recipient = Recipient(
            letter_id=letter.id,
            name=file.recipient_name,
            title=file.recipient_title,
            language=file.language,
        )
    return FrontMatter(
        site_name=settings.site_name,
        publisher_name=letter.publisher_name,
        publisher_contact=letter.publisher_contact,
        letter=letter_text_for(session, letter=letter, language=file.language),
        recipient=recipient_block(recipient, fallback_language=letter.language),
        first_signatories=first_signatories(session, letter_id=letter.id),
        statements=supporting_statements(session, letter_id=letter.id),
        summary=Summary(
            signature_count=export.signature_count,
            named_count=export.named_count,
            country_count=export.country_count,
            first_signed_at=export.first_signed_at,
            last_signed_at=export.last_signed_at,
        ),
        list_language=letter.language,
        exported_at=export.created_at,
        verification_code=file.verification_code,
        verify_url=f"{settings.base_url}/letters/{letter.slug}/verify/{file.verification_code}",
    )


def _merge_file(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    with open_session(context.engine) as session:
        file = session.get(PdfFile, job.ref_id)
        if file is None or file.finished_at is not None:
            return Outcome.DROPPED
        export = session.get(PdfExport, file.export_id)
        if export is None or not _live(export, PdfExportState.MERGING):
            return Outcome.DROPPED
        front = front_matter(session, settings=settings, export=export, file=file)
        author = front.publisher_name or settings.site_name
    parts = run_limited(
        render_parts,
        front,
        seconds=settings.pdf_render_timeout_seconds,
        memory_mb=settings.pdf_render_memory_mb,
    )
    list_file = storage.list_path(settings, export.id or 0)
    data, pages = merge.build_file(
        front=parts[0],
        list_path=list_file if export.pages_total else None,
        back=parts[1],
        footer=parts[2],
        info=merge.DocumentInfo(
            title=front.letter.title,
            author=author,
            subject=front.letter.summary or front.letter.title,
            language=front.letter.language,
            created_at=export.created_at,
            creator=settings.site_name,
        ),
    )
    data = sign_pdf(data, settings=settings)
    relative = storage.file_relative_path(export.id or 0, file.verification_code)
    target = settings.pdf_storage_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    with open_session(context.engine, write=True) as session:
        marked = session.execute(
            update(PdfFile)
            .where(col(PdfFile.id) == file.id)
            .where(col(PdfFile.finished_at).is_(None))
            .values(
                path=relative,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                pages=pages,
                signature_count=export.signature_count,
                finished_at=utcnow(),
            )
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            return Outcome.DROPPED
        done, total = session.execute(
            update(PdfExport)
            .where(col(PdfExport.id) == export.id)
            .values(files_done=col(PdfExport.files_done) + 1)
            .returning(col(PdfExport.files_done), col(PdfExport.files_total))
        ).one()
        if done == total:
            session.execute(
                update(PdfExport)
                .where(col(PdfExport.id) == export.id)
                .where(col(PdfExport.state) == PdfExportState.MERGING)
                .values(state=PdfExportState.DONE, finished_at=utcnow())
            )
        session.commit()
    if done == total:
        list_file.unlink(missing_ok=True)
    return Outcome.DONE


plan_export = _guarded(_plan, _export_itself)
render_chunk = _guarded(_render_chunk, _export_of_chunk)
assemble_list = _guarded(_assemble_list, _export_itself)
merge_file = _guarded(_merge_file, _export_of_file)

HANDLERS = {
    cleanup.CLEANUP: cleanup.clean_up,
    PLAN: plan_export,
    RENDER_CHUNK: render_chunk,
    ASSEMBLE_LIST: assemble_list,
    MERGE_FILE: merge_file,
}


def remove_export_files(settings: Settings, export_id: int) -> None:
    shutil.rmtree(storage.export_dir(settings, export_id), ignore_errors=True)
