"""Leases, fencing tokens and workers racing: every mail is sent once, and a worker that
outlived its lease (stalled, or killed between sending and recording) cannot undo the work
of the one that took over. Time is moved with the workers' ``clock``, never by sleeping."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlmodel import col
from starlette.testclient import TestClient

from app.config import Settings
from app.jobs.models import Job, JobState
from app.jobs.worker import ClaimedJob, JobContext, JobWorker, Outcome
from app.mail.service import message_id_for
from app.signatures.emails import send_signature_mail
from app.signatures.service import MAIL_SIGNATURE
from tests.helpers import (
    queued_jobs,
    sign,
)
from tests.jobs.queue import (
    ADDRESS,
    Clock,
    DiesAfterSending,
    app_log,
    job,
    queue_mails,
    recipients,
    the_job,
    worker_with,
)
from tests.smtp import SMTPServer

# -- leases, fencing, two workers -----------------------------------------------------------


def test_a_pass_that_outlives_its_lease_renews_it_as_each_job_starts(
    engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    leases: list[tuple[timedelta, bool]] = []

    def sends_and_looks_at_its_lease(context: JobContext, claimed: ClaimedJob) -> Outcome:
        row = job(engine, claimed.id)
        assert row.locked_until is not None
        leases.append((row.locked_until - clock.now, row.lease_token == claimed.lease_token))
        return send_signature_mail(context, claimed)

    slow = worker_with(
        engine, settings, clock=clock, handlers={MAIL_SIGNATURE: sends_and_looks_at_its_lease}
    )
    addresses = [f"slow{n}@example.org" for n in range(3)]
    ids = queue_mails(engine, letter_slug, addresses)
    clock.catch_up()

    batch = slow.claim(limit=10)
    assert [claimed.id for claimed in batch] == ids
    context = JobContext(engine=engine, settings=slow.settings, sender=slow.sender)
    try:
        for claimed in batch:
            assert slow.perform(context, claimed) is Outcome.DONE
            # Each job takes longer than the whole batch's lease.
            clock.advance(slow.lease + timedelta(seconds=1))
    finally:
        context.close()

    # The later jobs' claims had run out before they started: each was renewed as it started,
    # so no other worker could take a job while it ran.
    assert leases == [(slow.lease, True)] * 3
    assert recipients(smtp) == addresses
    assert [(each.state, each.attempts) for each in queued_jobs(engine)] == [(JobState.DONE, 1)] * 3


def test_jobs_another_worker_took_after_the_lease_ran_out_are_skipped(
    engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    slow = worker_with(engine, settings, clock=clock)
    other = worker_with(engine, settings, clock=clock)
    addresses = [f"slow{n}@example.org" for n in range(4)]
    queue_mails(engine, letter_slug, addresses)
    clock.catch_up()

    batch = slow.claim(limit=10)
    context = JobContext(engine=engine, settings=slow.settings, sender=slow.sender)
    try:
        assert slow.perform(context, batch[0]) is Outcome.DONE
        # The first job took longer than the lease; meanwhile another worker takes the rest.
        clock.advance(slow.lease + timedelta(seconds=1))
        assert other.run_due() == 3
        assert [slow.perform(context, claimed) for claimed in batch[1:]] == [None] * 3
    finally:
        context.close()

    assert sorted(recipients(smtp)) == sorted(addresses)  # each mail once
    assert [(each.state, each.attempts) for each in queued_jobs(engine)] == [
        (JobState.DONE, 1),
        (JobState.DONE, 2),
        (JobState.DONE, 2),
        (JobState.DONE, 2),
    ]


def test_two_workers_racing_send_each_mail_exactly_once(
    engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    addresses = [f"signer{n}@example.org" for n in range(30)]
    queue_mails(engine, letter_slug, addresses)
    workers = [worker_with(engine, settings, job_batch_size=2) for _ in range(2)]
    barrier = threading.Barrier(len(workers))
    done: list[int] = []
    errors: list[BaseException] = []

    def run(each: JobWorker) -> None:
        try:
            barrier.wait(timeout=10)
            done.append(each.run_until_idle())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(each,)) for each in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(done) == len(addresses)
    assert sorted(recipients(smtp)) == sorted(addresses)
    assert len({mail["Message-ID"] for mail in smtp.messages}) == len(addresses)
    assert [(each.state, each.attempts) for each in queued_jobs(engine)] == [
        (JobState.DONE, 1)
    ] * len(addresses)


def test_a_worker_killed_after_sending_is_resent_with_the_same_message_id(
    client: TestClient, engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    clock = Clock()
    dying = worker_with(engine, settings, clock=clock, sender=DiesAfterSending(settings))
    other = worker_with(engine, settings, clock=clock)
    sign(client, letter_slug, email=ADDRESS)
    clock.catch_up()

    with pytest.raises(SystemExit):
        dying.run_due()
    assert len(smtp.messages) == 1
    held = the_job(engine)
    assert (held.state, held.attempts, held.finished_at) == (JobState.PENDING, 1, None)

    clock.advance(other.lease - timedelta(seconds=1))
    assert other.run_due() == 0  # still held by the dead worker
    assert len(smtp.messages) == 1
    clock.advance(timedelta(seconds=2))
    assert other.run_due() == 1
    assert recipients(smtp) == [ADDRESS, ADDRESS]
    first, again = smtp.messages
    assert first["Message-ID"] == again["Message-ID"]
    done = the_job(engine)
    assert (done.state, done.attempts, done.finished_at) == (JobState.DONE, 2, clock.now)
    assert first["Message-ID"] == message_id_for(
        kind=MAIL_SIGNATURE,
        job_id=done.id or 0,
        created_at=done.created_at,
        base_url=settings.base_url,
    )


def test_a_late_finish_from_a_worker_that_lost_its_lease_is_fenced_off(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    other = worker_with(engine, settings, clock=clock)
    taken: list[ClaimedJob] = []

    def stalls_after_sending(context: JobContext, claimed: ClaimedJob) -> Outcome:
        outcome = send_signature_mail(context, claimed)
        # The worker stalls past its lease (a long GC pause, a frozen VM); another takes over.
        clock.advance(other.lease + timedelta(seconds=1))
        taken.extend(other.claim(limit=10))
        return outcome

    stalled = worker_with(
        engine, settings, clock=clock, handlers={MAIL_SIGNATURE: stalls_after_sending}
    )
    sign(client, letter_slug, email=ADDRESS)
    clock.catch_up()
    caplog.set_level(logging.INFO, logger="app")

    assert stalled.run_due() == 0  # it did send, but its outcome is not the one recorded
    [claimed] = taken
    held = the_job(engine)
    # Its late "done" did not touch the job the new holder is working on.
    assert (held.state, held.finished_at) == (JobState.PENDING, None)
    assert held.lease_token == claimed.lease_token
    assert held.locked_until == clock.now + other.lease
    assert any("lease lost while running" in r.getMessage() for r in app_log(caplog))

    clock.advance(timedelta(seconds=5))
    context = JobContext(engine=engine, settings=other.settings, sender=other.sender)
    try:
        assert other.perform(context, claimed) is Outcome.DONE
    finally:
        context.close()
    done = the_job(engine)
    assert (done.state, done.attempts, done.finished_at) == (JobState.DONE, 2, clock.now)
    assert done.lease_token is None
    first, again = smtp.messages
    assert first["Message-ID"] == again["Message-ID"]


# Row locks are PostgreSQL's; on SQLite claims are serialised by BEGIN IMMEDIATE.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_skips_jobs_another_worker_is_claiming(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    ids = queue_mails(engine, letter_slug, [f"locked{n}@example.org" for n in range(3)])
    # Were the claim to wait for the locked row instead of skipping it, it would fail here,
    # at once, rather than hang.
    impatient = create_engine(
        engine.url, connect_args={"options": "-c lock_timeout=2000"}, hide_parameters=True
    )
    worker = worker_with(impatient, settings)
    try:
        with engine.connect() as other, other.begin():
            # Another worker's claim, still in its transaction, holds the first job's row.
            other.execute(select(col(Job.id)).where(col(Job.id) == ids[0]).with_for_update())
            claimed = worker.claim(limit=10)
    finally:
        impatient.dispose()
    assert [each.id for each in claimed] == ids[1:]
    assert job(engine, ids[0]).lease_token is None
