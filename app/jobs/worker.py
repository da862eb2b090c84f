"""The worker: claims due jobs in batches, runs their handlers, retries with backoff."""

from __future__ import annotations

import logging
import secrets
import threading
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, or_, select, update
from sqlmodel import col

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs.errors import JobError
from app.jobs.models import Job, JobState
from app.mail.sender import MailConnection, Sender, redact_addresses

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    DROPPED = "dropped"  # nothing to do any more; not an error


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    ref_id: int | None
    attempts: int
    max_attempts: int
    lease_token: str
    created_at: datetime


@dataclass
class JobContext:
    """What a handler may use during one batch; the SMTP connection is opened once, lazily."""

    engine: Engine
    settings: Settings
    sender: Sender
    _stack: ExitStack = field(default_factory=ExitStack)
    _mailer: MailConnection | None = None

    @property
    def mailer(self) -> MailConnection:
        if self._mailer is None:
            self._mailer = self._stack.enter_context(self.sender.connect())
        return self._mailer

    def close(self) -> None:
        self._stack.close()


Handler = Callable[[JobContext, ClaimedJob], Outcome]


@dataclass(frozen=True, slots=True)
class Recurring:
    """A job that runs every ``every``: one row per period, whatever the number of workers."""

    kind: str
    every: timedelta


class JobWorker:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        sender: Sender,
        handlers: dict[str, Handler] | None = None,
        recurring: tuple[Recurring, ...] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        from app.jobs import registry

        self.engine = engine
        self.settings = settings
        self.sender = sender
        self.handlers = registry.HANDLERS if handlers is None else handlers
        self.recurring = registry.recurring(settings) if recurring is None else recurring
        self.clock = clock
        self._next_schedule_check: datetime | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_seconds)

    def backoff(self, attempts: int) -> timedelta:
        # The exponent is bounded: 2**1024 no longer fits a float, and the cap applies anyway.
        exponent = min(max(attempts - 1, 0), 60)
        seconds = self.settings.job_backoff_base_seconds * 2**exponent
        return timedelta(seconds=min(seconds, self.settings.job_backoff_max_seconds))

    # -- one pass ------------------------------------------------------------------------

    def run_due(self, *, limit: int | None = None) -> int:
        """Schedule recurring jobs, then claim and run one batch; returns how many were done."""
        self.schedule_recurring()
        batch = self.claim(limit=limit or self.settings.job_batch_size)
        context = JobContext(engine=self.engine, settings=self.settings, sender=self.sender)
        done = 0
        try:
            for job in batch:
                if self.perform(context, job) is Outcome.DONE:
                    done += 1
        finally:
            context.close()
        return done

    def run_until_idle(self, *, max_passes: int = 100) -> int:
        total = 0
        for _ in range(max_passes):
            done = self.run_due()
            total += done
            if not self._has_due():
                break
        return total

    def _has_due(self) -> bool:
        now = self.clock()
        with open_session(self.engine) as session:
            return session.execute(self._due_ids(now).limit(1)).first() is not None

    @staticmethod
    def _due_ids(now: datetime):  # type: ignore[no-untyped-def]
        return (
            select(col(Job.id))
            .where(col(Job.state) == JobState.PENDING)
            .where(col(Job.run_at) <= now)
            .where(or_(col(Job.locked_until).is_(None), col(Job.locked_until) < now))
            .order_by(col(Job.run_at), col(Job.id))
        )

    def claim(self, *, limit: int) -> list[ClaimedJob]:
        """Take a lease on up to ``limit`` due jobs in one statement; each attempt counts here,
        so a job that kills its worker every time still runs out of attempts."""
        now = self.clock()
        token = secrets.token_hex(16)
        with open_session(self.engine, write=True) as session:
            due = self._due_ids(now).limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = session.execute(
                update(Job)
                .where(col(Job.id).in_(due.scalar_subquery()))
                .values(
                    locked_until=now + self.lease,
                    lease_token=token,
                    attempts=col(Job.attempts) + 1,
                )
                .returning(
                    col(Job.id),
                    col(Job.kind),
                    col(Job.ref_id),
                    col(Job.attempts),
                    col(Job.max_attempts),
                    col(Job.run_at),
                    col(Job.created_at),
                )
            ).all()
            session.commit()
        rows = sorted(rows, key=lambda row: (row.run_at, row.id))
        return [
            ClaimedJob(
                id=row.id,
                kind=row.kind,
                ref_id=row.ref_id,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                lease_token=token,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def _fenced(self, job: ClaimedJob, **values: object) -> bool:
        """Change a job only while we still hold its lease; False if another worker has it."""
        with open_session(self.engine, write=True) as session:
            result = session.execute(
                update(Job)
                .where(col(Job.id) == job.id)
                .where(col(Job.lease_token) == job.lease_token)
                .where(col(Job.state) == JobState.PENDING)
                .values(**values)
            )
            session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def perform(self, context: JobContext, job: ClaimedJob) -> Outcome | None:
        # The lease is renewed as the job starts, so a slow batch never starts a job whose
        # lease has already run out; if another worker took it meanwhile, leave it to them.
        if not self._fenced(job, locked_until=self.clock() + self.lease):
            log.warning("job %s (%s): lease lost before it started; skipped", job.id, job.kind)
            return None
        handler = self.handlers.get(job.kind)
        if handler is None:
            # Perhaps a newer version of the app knows it: keep it, say so loudly, retry late.
            log.error("job %s: unknown kind %r; kept for a worker that knows it", job.id, job.kind)
            self._fenced(
                job,
                attempts=col(Job.attempts) - 1,  # not an attempt: nothing was tried
                locked_until=None,
                lease_token=None,
                last_error=f"unknown job kind {job.kind!r}",
                run_at=self.clock() + timedelta(seconds=self.settings.job_backoff_max_seconds),
            )
            return None
        if job.attempts > job.max_attempts:
            # Every allowed attempt ended without an outcome: the job kills its worker.
            self._failed(job, JobError("attempts exhausted without an outcome", permanent=True))
            return None
        try:
            outcome = handler(context, job)
        except Exception as exc:
            self._failed(job, exc)
            return None
        finished = self._fenced(
            job,
            state=JobState(outcome.value),
            finished_at=self.clock(),
            locked_until=None,
            lease_token=None,
            last_error="",
        )
        if not finished:
            log.warning(
                "job %s (%s): lease lost while running; outcome not recorded", job.id, job.kind
            )
            return None  # the holder of the new lease records it
        log.info("job %s (%s): %s", job.id, job.kind, outcome.value)
        return outcome

    def _failed(self, job: ClaimedJob, exc: Exception) -> None:
        permanent = bool(getattr(exc, "permanent", False))
        error = describe_failure(exc)
        if permanent or job.attempts >= job.max_attempts:
            log.warning("job %s (%s): failed for good: %s", job.id, job.kind, error)
            self._fenced(
                job,
                state=JobState.FAILED,
                finished_at=self.clock(),
                locked_until=None,
                lease_token=None,
                last_error=error,
            )
            return
        retry_at = self.clock() + self.backoff(job.attempts)
        log.warning(
            "job %s (%s): attempt %s failed, retrying at %s: %s",
            job.id,
            job.kind,
            job.attempts,
            retry_at.isoformat(),
            error,
        )
        self._fenced(job, run_at=retry_at, locked_until=None, lease_token=None, last_error=error)

    # -- recurring jobs --------------------------------------------------------------------

    def schedule_recurring(self) -> None:
        """Make sure this period's row of each recurring job exists."""
        from app.jobs.service import schedule_once

        now = self.clock()
        if self._next_schedule_check is not None and now < self._next_schedule_check:
            return
        if not self.recurring:
            self._next_schedule_check = now + timedelta(minutes=1)
            return
        # Checked again once a minute, or when the most frequent job's next period starts (the
        # counts' fold), so its row is written as the period begins, not up to a period late.
        self._next_schedule_check = min(
            now + timedelta(minutes=1),
            *(_next_period(now, recurring.every) for recurring in self.recurring),
        )
        with open_session(self.engine, write=True) as session:
            for recurring in self.recurring:
                period = int(now.timestamp() // recurring.every.total_seconds())
                schedule_once(
                    session,
                    kind=recurring.kind,
                    unique_key=f"{recurring.kind}@{period}",
                    run_at=now,
                )
            session.commit()

    def _pause(self) -> float:
        """The poll interval, cut short when a recurring job's next period starts sooner."""
        pause = self.settings.job_poll_seconds
        if self._next_schedule_check is not None:
            until = (self._next_schedule_check - self.clock()).total_seconds()
            pause = min(pause, max(until, 0.01))
        return pause

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set. Errors are logged, never fatal: jobs wait in the table."""
        from app.counters import jobs as counter_jobs

        log.info("job worker started")
        folding = None
        if any(recurring.kind == counter_jobs.FOLD for recurring in self.recurring):
            folding = threading.Thread(
                target=counter_jobs.fold_while_running,
                args=(self.engine, self.settings, stop),
                name="count-folder",
                daemon=True,
            )
            folding.start()
        try:
            self._poll(stop)
        finally:
            if folding is not None:
                folding.join(timeout=30)
        log.info("job worker stopped")

    def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            done = 0
            try:
                done = self.run_due()
            except Exception:
                log.exception("job worker pass failed; will try again")
            if done < self.settings.job_batch_size:  # a full batch: more may be waiting
                stop.wait(self._pause())


def _next_period(now: datetime, every: timedelta) -> datetime:
    """When the next period of a job run ``every`` so long starts (periods count from the
    epoch, as ``schedule_recurring`` numbers them)."""
    length = every.total_seconds()
    return datetime.fromtimestamp((now.timestamp() // length + 1) * length, tz=now.tzinfo)


def describe_failure(exc: Exception) -> str:
    """What is stored and logged about a failure. A JobError's message is the handler's own
    (addresses redacted all the same); any other exception is named with where it was raised,
    never its message, which may quote a signer's address or name."""
    if isinstance(exc, JobError):
        return redact_addresses(f"{type(exc).__name__}: {exc}")[:1000]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rpartition('/')[2]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def start_in_thread(worker: JobWorker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="job-worker", daemon=True)
    thread.start()
    return thread, stop
