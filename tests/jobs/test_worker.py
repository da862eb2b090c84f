"""The job queue's rules against a real database: retries with backoff, refusals, failures,
unknown kinds, scheduled and recurring jobs, the retention purge.

Time is moved with the worker's ``clock``, never by sleeping."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col
from starlette.testclient import TestClient

from app.config import Settings
from app.counters import jobs as counter_jobs
from app.db import make_engine, open_session, utcnow
from app.exports.pdf import cleanup as pdf_cleanup
from app.jobs import service as jobs
from app.jobs.models import JobState
from app.jobs.worker import ClaimedJob, JobContext, JobWorker, Outcome, Recurring
from app.mail.sender import ConsoleSender, SMTPSender
from app.privacy import jobs as privacy_jobs
from app.signatures.emails import send_signature_mail
from app.signatures.models import Signature, SignatureState
from app.signatures.service import MAIL_SIGNATURE
from app.webhooks import service as webhooks
from tests.helpers import (
    add_signature,
    queued_jobs,
    sign,
    signatures,
)
from tests.jobs.queue import (
    ADDRESS,
    BROKEN,
    Clock,
    add_job,
    app_log,
    job,
    recipients,
    set_job,
    the_job,
    worker_with,
)
from tests.pg import free_port
from tests.smtp import SMTPServer

# -- retries, refusals, failures -----------------------------------------------------------


def test_smtp_down_retries_with_backoff_then_delivers_once(
    client: TestClient, engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    down = worker_with(engine, settings, clock=clock, smtp_port=free_port())  # nobody there
    up = worker_with(engine, settings, clock=clock)
    assert sign(client, letter_slug, email=ADDRESS).status_code == 200
    start = clock.catch_up()

    assert down.run_due() == 0
    queued = the_job(engine)
    assert queued.state is JobState.PENDING
    assert queued.attempts == 1
    assert queued.last_error != ""
    assert ADDRESS not in queued.last_error
    assert queued.locked_until is None and queued.lease_token is None
    assert queued.run_at == start + down.backoff(1)
    assert smtp.messages == []

    # The server is back, but the job is not due yet.
    clock.catch_up()
    assert up.run_due() == 0
    assert smtp.messages == []

    later = clock.advance(down.backoff(1))
    assert up.run_due() == 1
    assert recipients(smtp) == [ADDRESS]
    sent = the_job(engine)
    assert sent.state is JobState.DONE
    assert sent.attempts == 2
    assert sent.finished_at == later
    assert sent.last_error == ""

    clock.advance(timedelta(days=1))
    assert up.run_due() == 0
    assert len(smtp.messages) == 1


def test_backoff_grows_with_attempts_and_is_capped() -> None:
    settings = Settings(job_backoff_base_seconds=30, job_backoff_max_seconds=3600)
    engine = make_engine("sqlite://")
    worker = JobWorker(engine=engine, settings=settings, sender=ConsoleSender(io.StringIO()))
    assert worker.backoff(1) == timedelta(seconds=30)
    assert worker.backoff(2) == timedelta(seconds=60)
    assert worker.backoff(3) == timedelta(seconds=120)
    delays = [worker.backoff(attempts) for attempts in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)
    assert worker.backoff(5000) == timedelta(hours=1)  # however many attempts are allowed
    engine.dispose()


def test_temporary_refusal_is_retried_later(
    client: TestClient, engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    worker = worker_with(engine, settings, clock=clock)
    sign(client, letter_slug, email=ADDRESS)
    smtp.handler.refuse_with = f"451 4.3.0 <{ADDRESS}> try later"
    start = clock.catch_up()
    assert worker.run_due() == 0
    queued = the_job(engine)
    assert queued.state is JobState.PENDING
    assert queued.attempts == 1
    assert "451" in queued.last_error
    assert "example.org" not in queued.last_error
    assert queued.run_at == start + worker.backoff(1)
    assert smtp.messages == []

    smtp.handler.refuse_with = None
    clock.now = queued.run_at
    assert worker.run_due() == 1
    assert recipients(smtp) == [ADDRESS]
    assert the_job(engine).state is JobState.DONE


def test_permanent_refusal_fails_for_good_and_keeps_no_address(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    worker = worker_with(engine, settings, clock=clock)
    sign(client, letter_slug, email=ADDRESS)
    smtp.handler.refuse_with = f"550 5.1.1 <{ADDRESS}>: no such user"
    caplog.set_level(logging.INFO, logger="app")
    clock.catch_up()
    assert worker.run_due() == 0
    failed = the_job(engine)
    assert failed.state is JobState.FAILED
    assert failed.attempts == 1
    assert failed.finished_at == clock.now
    assert "550" in failed.last_error
    assert "<address>" in failed.last_error
    assert "example.org" not in failed.last_error.lower()
    lines = [record.getMessage() for record in app_log(caplog)]
    assert any("failed for good" in line for line in lines)
    assert not any("example.org" in line.lower() for line in lines)

    smtp.handler.refuse_with = None
    clock.advance(timedelta(days=30))
    assert worker.run_due() == 0
    assert smtp.messages == []
    assert the_job(engine).state is JobState.FAILED


def test_attempts_exhausted_means_failed(
    client: TestClient, engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    worker = worker_with(engine, settings, clock=clock)
    sign(client, letter_slug, email=ADDRESS)
    set_job(engine, the_job(engine).id, max_attempts=3)
    smtp.handler.refuse_with = "451 4.3.0 try later"
    clock.catch_up()
    for attempt in (1, 2, 3):
        assert worker.run_due() == 0
        queued = the_job(engine)
        assert queued.attempts == attempt
        clock.now = queued.run_at
    assert queued.state is JobState.FAILED

    smtp.handler.refuse_with = None
    clock.advance(timedelta(days=1))
    assert worker.run_due() == 0
    assert smtp.messages == []


def test_a_failing_handler_is_retried_with_backoff_and_the_pass_goes_on(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def broken(context: JobContext, claimed: ClaimedJob) -> Outcome:
        calls.append(claimed.id)
        raise ValueError(f"could not render the mail for {ADDRESS}")

    clock = Clock()
    worker = worker_with(
        engine,
        settings,
        clock=clock,
        handlers={BROKEN: broken, MAIL_SIGNATURE: send_signature_mail},
    )
    broken_id = add_job(engine, kind=BROKEN, max_attempts=3)  # first in the queue
    sign(client, letter_slug, email=ADDRESS)
    caplog.set_level(logging.INFO, logger="app")

    start = clock.catch_up()
    assert worker.run_due() == 1  # the mail behind the broken job went out
    assert recipients(smtp) == [ADDRESS]
    assert the_job(engine).state is JobState.DONE
    retried = job(engine, broken_id)
    assert retried.state is JobState.PENDING
    assert retried.attempts == 1
    assert retried.run_at == start + worker.backoff(1)
    assert retried.locked_until is None and retried.lease_token is None
    assert retried.last_error.startswith("ValueError")

    # Not before its time; then again, with a longer wait; then for good.
    clock.advance(worker.backoff(1) - timedelta(seconds=1))
    assert worker.run_due() == 0
    assert calls == [broken_id]
    clock.now = job(engine, broken_id).run_at
    worker.run_due()
    second = job(engine, broken_id)
    assert (second.state, second.attempts) == (JobState.PENDING, 2)
    assert second.run_at == clock.now + worker.backoff(2)
    assert worker.backoff(2) > worker.backoff(1)
    clock.now = second.run_at
    worker.run_due()
    failed = job(engine, broken_id)
    assert (failed.state, failed.attempts) == (JobState.FAILED, 3)
    assert failed.finished_at == clock.now
    clock.advance(timedelta(days=1))
    worker.run_due()
    assert calls == [broken_id] * 3

    # What the exception said may quote an address: it is neither stored nor logged.
    assert "example.org" not in failed.last_error
    assert not any("example.org" in record.getMessage() for record in app_log(caplog))


def test_a_job_that_kills_its_worker_every_time_runs_out_of_attempts(
    engine: Engine, settings: Settings
) -> None:
    calls: list[int] = []

    def kills_the_worker(context: JobContext, claimed: ClaimedJob) -> Outcome:
        calls.append(claimed.attempts)
        raise SystemExit("killed")  # as good as the process dying mid-job

    clock = Clock()
    worker = worker_with(engine, settings, clock=clock, handlers={BROKEN: kills_the_worker})
    job_id = add_job(engine, kind=BROKEN, max_attempts=2)
    for _ in range(2):
        clock.advance(worker.lease + timedelta(seconds=1))
        with pytest.raises(SystemExit):
            worker.run_due()
    clock.advance(worker.lease + timedelta(seconds=1))
    assert worker.run_due() == 0
    assert calls == [1, 2]
    failed = job(engine, job_id)
    assert failed.state is JobState.FAILED
    assert "attempts exhausted" in failed.last_error


def test_an_unknown_kind_fails_loudly_and_stays_for_a_worker_that_knows_it(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    worker = worker_with(engine, settings, clock=clock)
    unknown_id = add_job(engine, kind="test.from-a-newer-version")
    sign(client, letter_slug, email=ADDRESS)
    caplog.set_level(logging.INFO, logger="app")

    start = clock.catch_up()
    assert worker.run_due() == 1  # the pass went on to the mail
    assert recipients(smtp) == [ADDRESS]
    errors = [record for record in app_log(caplog) if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "test.from-a-newer-version" in errors[0].getMessage()
    kept = job(engine, unknown_id)
    assert kept.state is JobState.PENDING  # neither dropped nor failed
    assert kept.attempts == 0  # nothing was tried
    assert kept.locked_until is None and kept.lease_token is None
    assert "unknown job kind" in kept.last_error
    late = start + timedelta(seconds=settings.job_backoff_max_seconds)
    assert kept.run_at == late

    clock.now = late - timedelta(seconds=1)
    worker.run_due()
    assert len([r for r in app_log(caplog) if r.levelno >= logging.ERROR]) == 1
    clock.now = late
    worker.run_due()
    assert len([r for r in app_log(caplog) if r.levelno >= logging.ERROR]) == 2
    assert job(engine, unknown_id).state is JobState.PENDING

    # A worker that knows the kind runs it, with all its attempts.
    ran: list[ClaimedJob] = []

    def knows_it(context: JobContext, claimed: ClaimedJob) -> Outcome:
        ran.append(claimed)
        return Outcome.DONE

    newer = worker_with(
        engine, settings, clock=clock, handlers={"test.from-a-newer-version": knows_it}
    )
    clock.advance(timedelta(days=1))
    assert newer.run_due() == 1
    assert [claimed.attempts for claimed in ran] == [1]
    assert job(engine, unknown_id).state is JobState.DONE


# -- scheduled and recurring jobs --------------------------------------------------------


def test_a_scheduled_job_does_not_run_before_its_time(engine: Engine, settings: Settings) -> None:
    ran: list[datetime] = []
    clock = Clock()

    def record(context: JobContext, claimed: ClaimedJob) -> Outcome:
        ran.append(clock.now)
        return Outcome.DONE

    worker = worker_with(engine, settings, clock=clock, handlers={"test.later": record})
    when = clock.now + timedelta(hours=2)
    with open_session(engine, write=True) as session:
        jobs.enqueue(session, kind="test.later", run_at=when)
        session.commit()

    assert worker.run_until_idle() == 0
    clock.now = when - timedelta(seconds=1)
    assert worker.run_until_idle() == 0
    assert ran == []
    clock.now = when
    assert worker.run_until_idle() == 1
    assert ran == [when]
    assert the_job(engine, "test.later").state is JobState.DONE


def test_a_recurring_job_has_one_row_per_period_whatever_the_workers(
    engine: Engine, settings: Settings
) -> None:
    ticks: list[int] = []

    def tick(context: JobContext, claimed: ClaimedJob) -> Outcome:
        ticks.append(claimed.id)
        return Outcome.DONE

    hour = int(utcnow().timestamp() // 3600) * 3600
    clock = Clock(datetime.fromtimestamp(hour, tz=UTC) + timedelta(minutes=5))
    every = (Recurring(kind="test.tick", every=timedelta(hours=1)),)
    first, second = (
        worker_with(engine, settings, clock=clock, handlers={"test.tick": tick}, recurring=every)
        for _ in range(2)
    )

    first.schedule_recurring()
    second.schedule_recurring()
    clock.advance(timedelta(minutes=2))  # past the once-a-minute check, same period
    first.schedule_recurring()
    second.schedule_recurring()
    [row] = queued_jobs(engine)
    assert (row.kind, row.state) == ("test.tick", JobState.PENDING)
    assert row.unique_key == f"test.tick@{hour // 3600}"

    assert first.run_due() + second.run_due() == 1
    assert ticks == [row.id]
    clock.advance(timedelta(minutes=10))
    assert first.run_due() + second.run_due() == 0

    clock.advance(timedelta(hours=1))
    assert second.run_due() + first.run_due() == 1
    assert len(ticks) == 2
    assert [each.state for each in queued_jobs(engine)] == [JobState.DONE, JobState.DONE]


def test_a_frequent_job_is_written_as_its_period_starts_and_the_worker_wakes_for_it(
    engine: Engine, settings: Settings
) -> None:
    """The counts' fold runs every few seconds; its row must not wait for a check a whole
    period after the last one, nor the worker sleep its full poll past the period's start."""
    every = (Recurring(kind="test.fold", every=timedelta(seconds=2)),)
    start = int(utcnow().timestamp() // 2) * 2
    clock = Clock(datetime.fromtimestamp(start, tz=UTC) + timedelta(seconds=1.5))
    polling = settings.model_copy(update={"job_poll_seconds": 1.0})
    worker = worker_with(engine, polling, clock=clock, recurring=every)
    worker.schedule_recurring()
    assert worker._pause() == pytest.approx(0.5)  # the next period starts in 0.5 s, not 1 s
    clock.advance(timedelta(seconds=0.6))  # 0.1 s into the next period
    worker.schedule_recurring()
    keys = sorted(row.unique_key or "" for row in queued_jobs(engine))
    assert keys == [f"test.fold@{start // 2}", f"test.fold@{start // 2 + 1}"]
    assert worker._pause() == pytest.approx(1.0)  # the poll, sooner than the next period


def test_the_purge_job_deletes_expired_pending_signatures_and_old_jobs(
    engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    now = utcnow()
    expired = now - timedelta(days=settings.unconfirmed_retention_days, hours=1)
    young = now - timedelta(days=settings.unconfirmed_retention_days, hours=-1)
    tomorrow = now + timedelta(days=1)  # mail jobs wait, so only the purge runs

    def signature(email: str, state: SignatureState, created_at: datetime) -> int:
        added = add_signature(engine, letter_slug, name="S", email=email, state=state)
        with open_session(engine, write=True) as session:
            session.execute(
                update(Signature).where(col(Signature.id) == added.id).values(created_at=created_at)
            )
            session.commit()
        assert added.id is not None
        return added.id

    old_pending = signature("old@example.org", SignatureState.PENDING, expired)
    young_pending = signature("young@example.org", SignatureState.PENDING, young)
    old_confirmed = signature("kept@example.org", SignatureState.CONFIRMED, expired)
    gone = [
        add_job(engine, kind=MAIL_SIGNATURE, ref_id=old_pending, run_at=tomorrow),
        add_job(
            engine,
            kind=MAIL_SIGNATURE,
            ref_id=old_pending,
            state=JobState.DONE,
            finished_at=young,  # recent, but about an expired signature
        ),
        add_job(engine, kind="test.old", state=JobState.DONE, finished_at=expired),
        add_job(engine, kind="test.old", state=JobState.FAILED, finished_at=expired),
    ]
    kept = [
        add_job(engine, kind=MAIL_SIGNATURE, ref_id=young_pending, run_at=tomorrow),
        add_job(engine, kind=MAIL_SIGNATURE, ref_id=old_confirmed, run_at=tomorrow),
        add_job(engine, kind="test.recent", state=JobState.DONE, finished_at=young),
        add_job(engine, kind="test.waiting", run_at=tomorrow, created_at=expired),
    ]
    # The app's own registry: the purge (and the counts' fold) are scheduled by the worker.
    worker = JobWorker(engine=engine, settings=settings, sender=SMTPSender(settings))
    assert worker.run_due() == 4  # the purge, the counts' fold, the webhooks' scan, PDF cleanup

    assert [each.id for each in signatures(engine)] == [young_pending, old_confirmed]
    remaining = [each for each in queued_jobs(engine) if each.kind != counter_jobs.FOLD]
    [purge] = [each for each in remaining if each.kind == privacy_jobs.PURGE]
    assert purge.state is JobState.DONE
    [scan] = [each for each in remaining if each.kind == webhooks.SCAN]
    [cleanup] = [each for each in remaining if each.kind == pdf_cleanup.CLEANUP]
    assert [each.id for each in remaining if each.id not in (purge.id, scan.id, cleanup.id)] == kept
    assert not set(gone) & {each.id for each in remaining}
    assert smtp.messages == []

    assert worker.run_due() == 0  # once per period
