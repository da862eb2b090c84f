"""Helpers for the job queue's tests: a clock the test moves, workers built around it,
jobs added and read back, and a sender whose worker dies right after sending."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs import service as jobs
from app.jobs.models import Job
from app.jobs.worker import Handler, JobWorker, Recurring
from app.mail.sender import MailConnection, Sender, SMTPSender
from app.mail.service import RenderedMail
from app.signatures.models import SignatureState
from app.signatures.service import MAIL_SIGNATURE
from tests.helpers import (
    add_signature,
    queued_jobs,
)
from tests.smtp import SMTPServer

ADDRESS = "anna@example.org"
BROKEN = "test.broken"


class Clock:
    """The workers' time, moved by the test."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def catch_up(self) -> datetime:
        """Now, for real: after jobs were queued with the wall clock's time."""
        self.now = utcnow()
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def worker_with(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock | None = None,
    sender: Sender | None = None,
    handlers: dict[str, Handler] | None = None,
    recurring: tuple[Recurring, ...] = (),
    **changes: object,
) -> JobWorker:
    changed = settings.model_copy(update=changes)
    return JobWorker(
        engine=engine,
        settings=changed,
        sender=sender or SMTPSender(changed),
        handlers=handlers,
        recurring=recurring,
        clock=clock or utcnow,
    )


def the_job(engine: Engine, kind: str = MAIL_SIGNATURE) -> Job:
    [job] = [job for job in queued_jobs(engine) if job.kind == kind]
    return job


def job(engine: Engine, job_id: int | None) -> Job:
    [found] = [each for each in queued_jobs(engine) if each.id == job_id]
    return found


def set_job(engine: Engine, job_id: int | None, **values: object) -> None:
    with open_session(engine, write=True) as session:
        session.execute(update(Job).where(col(Job.id) == job_id).values(**values))
        session.commit()


def add_job(engine: Engine, *, kind: str, ref_id: int | None = None, **values: object) -> int:
    with open_session(engine, write=True) as session:
        jobs.enqueue(session, kind=kind, ref_id=ref_id)
        session.commit()
    job_id = max(each.id or 0 for each in queued_jobs(engine))
    if values:
        set_job(engine, job_id, **values)
    return job_id


def queue_mails(engine: Engine, slug: str, addresses: list[str]) -> list[int]:
    """Pending signatures, each with its mail job queued; returns the jobs' ids."""
    ids = []
    for n, address in enumerate(addresses):
        signature = add_signature(
            engine, slug, name=f"Signer {n}", email=address, state=SignatureState.PENDING
        )
        ids.append(add_job(engine, kind=MAIL_SIGNATURE, ref_id=signature.id))
    return ids


def recipients(smtp: SMTPServer) -> list[str]:
    return [address for delivery in smtp.handler.envelopes for address in delivery.rcpt_tos]


def app_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith("app")]


class DiesAfterSending:
    """A sender whose worker is killed right after the server has accepted the mail, before
    the job can be recorded as done."""

    def __init__(self, settings: Settings) -> None:
        self.smtp = SMTPSender(settings)

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        with self.smtp.connect() as connection:
            yield _KilledAfterSending(connection)


class _KilledAfterSending:
    def __init__(self, connection: MailConnection) -> None:
        self.connection = connection

    def send(self, mail: RenderedMail) -> None:
        self.connection.send(mail)
        raise SystemExit("killed")
