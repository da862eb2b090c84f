"""Mail jobs over a real SMTP server: one connection per batch, reopened when dropped,
deterministic Message-IDs, the envelope recipient, withdrawn signatures, and the mail itself."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs import service as jobs
from app.jobs.models import JobState
from app.jobs.service import delete_finished_before
from app.jobs.worker import ClaimedJob, JobContext, JobWorker, Outcome
from app.kit.tokens import Purpose, Tokens
from app.mail.sender import ConsoleSender
from app.mail.service import message_id_for
from app.signatures.emails import send_signature_mail
from app.signatures.models import SignatureState
from app.signatures.service import MAIL_SIGNATURE
from tests.conftest import BASE_URL
from tests.helpers import (
    SAME_ORIGIN,
    address_of,
    html_part,
    links,
    mail_jobs,
    new_mail,
    press_button,
    queued_jobs,
    sign,
    signatures,
    text_part,
)
from tests.jobs.queue import (
    ADDRESS,
    Clock,
    add_job,
    job,
    queue_mails,
    recipients,
    the_job,
    worker_with,
)
from tests.smtp import SMTPServer

URL = re.compile(r"https?://[^\s\"'<>]+")

# -- one SMTP connection per batch ---------------------------------------------------------


def test_a_batch_of_mails_shares_one_smtp_connection(
    engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    addresses = [f"batch{n}@example.org" for n in range(5)]
    queue_mails(engine, letter_slug, addresses)
    assert worker.run_due() == 5
    assert recipients(smtp) == addresses
    assert smtp.handler.connections == 1

    # The next batch opens its own connection (and the first was closed, not leaked).
    queue_mails(engine, letter_slug, ["later@example.org"])
    assert worker.run_due() == 1
    assert smtp.handler.connections == 2


def test_a_connection_dropped_mid_batch_is_reopened_and_the_mail_retried_later(
    engine: Engine, settings: Settings, smtp: SMTPServer, letter_slug: str
) -> None:
    sent_so_far: list[int] = []

    def drops_before_the_third(context: JobContext, claimed: ClaimedJob) -> Outcome:
        sent_so_far.append(claimed.id)
        smtp.handler.drop_next = len(sent_so_far) == 3
        return send_signature_mail(context, claimed)

    clock = Clock()
    worker = worker_with(
        engine, settings, clock=clock, handlers={MAIL_SIGNATURE: drops_before_the_third}
    )
    addresses = [f"batch{n}@example.org" for n in range(5)]
    ids = queue_mails(engine, letter_slug, addresses)
    start = clock.catch_up()

    assert worker.run_due() == 4
    assert recipients(smtp) == [addresses[n] for n in (0, 1, 3, 4)]
    assert smtp.handler.connections == 2  # the one dropped, and one reopened for the rest
    dropped = job(engine, ids[2])
    assert (dropped.state, dropped.attempts) == (JobState.PENDING, 1)
    assert dropped.run_at == start + worker.backoff(1)
    assert "example.org" not in dropped.last_error

    clock.now = dropped.run_at
    assert worker.run_due() == 1
    assert sorted(recipients(smtp)) == sorted(addresses)
    assert {each.state for each in queued_jobs(engine)} == {JobState.DONE}


# -- the mail ----------------------------------------------------------------------------


def test_message_ids_are_the_same_for_a_job_and_differ_between_jobs(
    engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    ids = queue_mails(engine, letter_slug, ["one@example.org", "two@example.org"])
    assert worker.run_due() == 2
    sent = [mail["Message-ID"] for mail in smtp.messages]
    jobs = {job.id: job for job in queued_jobs(engine)}
    expected = [
        message_id_for(
            kind=MAIL_SIGNATURE,
            job_id=job_id,
            created_at=jobs[job_id].created_at,
            base_url=BASE_URL,
        )
        for job_id in ids
    ]
    assert sent == expected
    assert len(set(sent)) == 2
    assert all(each.endswith("@undersigned.test>") for each in sent)


def test_a_new_signature_after_withdrawing_gets_a_new_message_id(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    """Found in an attack: SQLite reused the deleted job's id, so the second confirmation
    carried the first one's Message-ID, and a mail system may drop it as already seen."""
    sign(client, letter_slug, email=ADDRESS)
    [first] = new_mail(worker, smtp)
    assert press_button(client, links(first)["withdraw"]).status_code == 200
    worker.run_until_idle()
    # Withdrawing deleted the mail job, and retention deletes finished ones: ids are free again.
    with open_session(engine, write=True) as session:
        delete_finished_before(session, before=utcnow() + timedelta(days=1))
        session.commit()
    assert queued_jobs(engine) == []
    sign(client, letter_slug, email=ADDRESS)
    [second] = new_mail(worker, smtp)
    assert second["Message-ID"] != first["Message-ID"]


def test_the_envelope_recipient_is_exactly_the_stored_address(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug, email="Anna.Example+letters@Example.org").status_code == 200
    [signature] = signatures(engine)
    stored = address_of(signature)
    assert stored is not None
    assert worker.run_due() == 1
    [delivery] = smtp.handler.envelopes
    assert delivery.rcpt_tos == (stored,)
    assert delivery.mail_from == "letters@undersigned.test"
    [mail] = smtp.messages
    assert mail["To"] == stored


def test_a_job_queued_in_a_rolled_back_transaction_never_runs(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    [signature] = signatures(engine)
    assert signature.id is not None
    assert worker.run_due() == 1

    with open_session(engine, write=True) as session:
        jobs.enqueue(session, kind=MAIL_SIGNATURE, ref_id=signature.id)
        session.flush()
        session.rollback()
    assert len(queued_jobs(engine)) == 1
    assert worker.run_due() == 0

    # The same job, committed, runs: the rollback is what stopped it above.
    add_job(engine, kind=MAIL_SIGNATURE, ref_id=signature.id)
    assert worker.run_due() == 1
    assert len(smtp.messages) == 2


def test_withdrawing_takes_the_signatures_mail_out_of_the_queue(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    [signature] = signatures(engine)
    token = Tokens(settings.resolved_secret_keys()).make(Purpose.WITHDRAW, signature.public_id)
    batch = worker.claim(limit=10)  # a worker has just claimed the mail...
    assert press_button(client, f"/withdraw/{token}").status_code == 200  # ...and it is withdrawn
    assert signatures(engine) == []
    assert mail_jobs(engine) == []

    context = JobContext(engine=engine, settings=settings, sender=worker.sender)
    try:
        assert [worker.perform(context, claimed) for claimed in batch] == [None]
    finally:
        context.close()
    worker.run_until_idle()  # the scrub the withdrawal queued
    assert smtp.messages == []


def test_a_mail_about_a_withdrawn_signature_is_dropped(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    assert len(new_mail(worker, smtp)) == 1
    [signature] = signatures(engine)
    confirm = links(smtp.messages[0])["confirm"]
    assert press_button(client, confirm).status_code == 200
    token = Tokens(settings.resolved_secret_keys()).make(Purpose.WITHDRAW, signature.public_id)
    assert press_button(client, f"/withdraw/{token}").status_code == 200
    [withdrawn] = signatures(engine)
    assert withdrawn.state is SignatureState.WITHDRAWN
    assert worker.run_due() == 1  # the scrub the withdrawal queued
    # A job about it that escaped the clean-up (queued by a transaction racing the withdrawal).
    dropped_id = add_job(engine, kind=MAIL_SIGNATURE, ref_id=withdrawn.id)
    missing_id = add_job(engine, kind=MAIL_SIGNATURE, ref_id=(withdrawn.id or 0) + 1000)

    assert worker.run_due() == 0
    assert len(smtp.messages) == 1
    for job_id in (dropped_id, missing_id):
        dropped = job(engine, job_id)
        assert dropped.state is JobState.DROPPED
        assert dropped.attempts == 1
        assert dropped.finished_at is not None


@pytest.mark.parametrize("host", [None, "evil.example"])
def test_mail_has_text_and_html_and_links_from_base_url(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    host: str | None,
) -> None:
    headers = {"Host": host} if host else {}
    page = client.get(f"/letters/{letter_slug}", headers=headers)
    assert page.status_code == 200
    form = {"name": "Anna", "email": ADDRESS, "visibility": "public"}
    posted = client.post(f"/letters/{letter_slug}/sign", data=form, headers=headers | SAME_ORIGIN)
    assert posted.status_code == 200
    assert worker.run_due() == 1

    [mail] = smtp.messages
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["From"] == settings.mail_from
    assert mail["To"] == ADDRESS
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@undersigned.test>")
    text, html = text_part(mail), html_part(mail)
    for part in (text, html):
        urls = URL.findall(part)
        assert urls, "the mail has no links"
        assert all(url.startswith(settings.base_url + "/") for url in urls), urls
        assert "evil.example" not in part
        assert "testserver" not in part
    found = links(mail)
    assert set(found) == {"confirm", "withdraw"}
    assert f"{settings.base_url}{found['confirm']}" in html
    assert f"{settings.base_url}{found['withdraw']}" in html
    assert "<a " in html and "<a " not in text
    assert press_button(client, found["confirm"]).status_code == 200  # the link is genuine
    assert signatures(engine)[0].state is SignatureState.CONFIRMED


def test_console_sender_prints_subject_and_links_but_no_address(
    client: TestClient, engine: Engine, settings: Settings, letter_slug: str
) -> None:
    sign(client, letter_slug, email="Anna.Example@Example.org")
    stream = io.StringIO()
    console = worker_with(engine, settings, sender=ConsoleSender(stream))
    assert console.run_due() == 1
    printed = stream.getvalue()
    assert "Your confirmation link from Undersigned" in printed
    confirm = re.search(re.escape(settings.base_url) + r"/confirm/[A-Za-z0-9._-]+", printed)
    withdraw = re.search(re.escape(settings.base_url) + r"/withdraw/[A-Za-z0-9._-]+", printed)
    assert confirm and withdraw
    assert "example.org" not in printed.lower()
    assert "@" not in printed
    assert the_job(engine).state is JobState.DONE
    page = client.get(confirm.group(0).removeprefix(settings.base_url))
    assert page.status_code == 200
