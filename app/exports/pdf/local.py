"""Doing an export's jobs here, on every core: ``undersigned export-pdf`` starts the export like
the dashboard does, then runs helper processes that take its jobs from the queue (one at a
time, so they share the chunks) alongside any worker that is running, until it is finished."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import col

from app.config import Settings
from app.db import make_engine, open_session
from app.exports.pdf.isolation import limit_this_process
from app.exports.pdf.service import JOB_KINDS, ExportProgress, export_progress
from app.jobs.models import Job
from app.jobs.worker import JobWorker
from app.mail.sender import MailConnection

log = logging.getLogger(__name__)


class NoMail:
    """The sender of a worker that takes only PDF jobs: it never sends mail."""

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        raise RuntimeError("a PDF worker sends no mail")
        yield  # pragma: no cover


class PdfJobWorker(JobWorker):
    """A worker that takes only PDF jobs (never a mail it was not started to send)."""

    def _due_ids(self, now: datetime):  # type: ignore[no-untyped-def, override]
        return super()._due_ids(now).where(col(Job.kind).in_(JOB_KINDS))


def _work(settings: Settings, export_id: int) -> None:
    """One helper process: limited once, it renders in-process, job after job."""
    logging.getLogger("app.jobs.worker").setLevel(logging.WARNING)
    limit_this_process(
        seconds=settings.pdf_render_timeout_seconds, memory_mb=settings.pdf_render_memory_mb
    )
    engine = make_engine(settings.resolved_database_url(), connections=2)
    worker = PdfJobWorker(engine=engine, settings=settings, sender=NoMail(), recurring=())
    try:
        while True:
            if worker.run_due(limit=1):
                continue
            with open_session(engine) as session:
                if export_progress(session, export_id).finished:
                    return
            time.sleep(0.1)
    finally:
        engine.dispose()


def run_export_here(
    settings: Settings,
    *,
    export_id: int,
    processes: int,
    on_progress: Callable[[ExportProgress], None] | None = None,
    poll_seconds: float = 0.25,
) -> ExportProgress:
    """Work on the export with ``processes`` helpers (0: only wait for other workers)."""
    context = multiprocessing.get_context("forkserver")
    helpers = [
        context.Process(target=_work, args=(settings, export_id), daemon=True)
        for _ in range(processes)
    ]
    for helper in helpers:
        helper.start()
    engine = make_engine(settings.resolved_database_url(), connections=1)
    try:
        while True:
            with open_session(engine) as session:
                progress = export_progress(session, export_id)
            if on_progress is not None:
                on_progress(progress)
            if progress.finished:
                return progress
            if helpers and not any(helper.is_alive() for helper in helpers):
                raise RuntimeError("every helper process stopped before the export finished")
            time.sleep(poll_seconds)
    finally:
        for helper in helpers:
            helper.join(timeout=5)
            if helper.is_alive():
                helper.kill()
                helper.join()
        engine.dispose()
