"""The mail worker against a real SMTP server: retries, refusals, claims, drops, and the mail."""

from __future__ import annotations

import io
import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from app.config import Settings
from app.db import make_engine, open_session, utcnow
from app.kit.tokens import Purpose, Tokens
from app.mail import service as mail_service
from app.mail.models import OutboxMessage, OutboxStatus
from app.mail.sender import ConsoleSender, SMTPSender
from app.mail.service import RenderedMail, enqueue
from app.mail.worker import CLAIM_SECONDS, MailWorker
from app.signatures.models import SignatureState
from app.signatures.service import MAIL_ALREADY_SIGNED, MAIL_CONFIRM
from tests.helpers import csrf_from, html_part, links, sign, signatures, text_part
from tests.pg import free_port
from tests.smtp import SMTPServer

ADDRESS = "anna@example.org"
URL = re.compile(r"https?://[^\s\"'<>]+")


def outbox(engine: Engine) -> list[OutboxMessage]:
    with open_session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def the_message(engine: Engine) -> OutboxMessage:
    [message] = outbox(engine)
    return message


def worker_with(engine: Engine, settings: Settings, **changes: object) -> MailWorker:
    changed = settings.model_copy(update=changes)
    return MailWorker(engine=engine, settings=changed, sender=SMTPSender(changed))


def act_on_link(client: TestClient, path: str) -> None:
    """Open a mailed link's page and press its button, as the signer would."""
    page = client.get(path)
    assert page.status_code == 200
    done = client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200


def test_smtp_down_retries_with_backoff_then_delivers_once(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    down = worker_with(engine, settings, smtp_port=free_port())  # nothing listens there
    assert sign(client, letter_slug, email=ADDRESS).status_code == 200
    now = utcnow()

    assert down.deliver_due(now=now) == 0
    message = the_message(engine)
    assert message.status is OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error != ""
    assert ADDRESS not in message.last_error
    assert message.locked_until is None
    assert message.next_attempt_at == now + down.backoff(1)
    assert message.next_attempt_at > now
    assert smtp.messages == []

    # The server is back, but the message is not due yet.
    assert worker.deliver_due(now=now + timedelta(seconds=1)) == 0
    assert smtp.messages == []

    later = message.next_attempt_at + timedelta(seconds=1)
    assert worker.deliver_due(now=later) == 1
    [mail] = smtp.messages
    assert mail["To"] == ADDRESS
    sent = the_message(engine)
    assert sent.status is OutboxStatus.SENT
    assert sent.attempts == 2
    assert sent.sent_at == later

    assert worker.deliver_due(now=later + timedelta(days=1)) == 0
    assert len(smtp.messages) == 1


def test_backoff_grows_with_attempts_and_is_capped() -> None:
    settings = Settings(mail_backoff_base_seconds=30, mail_backoff_max_seconds=3600)
    engine = make_engine("sqlite://")
    worker = MailWorker(engine=engine, settings=settings, sender=ConsoleSender(io.StringIO()))
    assert worker.backoff(1) == timedelta(seconds=30)
    assert worker.backoff(2) == timedelta(seconds=60)
    assert worker.backoff(3) == timedelta(seconds=120)
    delays = [worker.backoff(attempts) for attempts in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)
    # However many attempts an operator allows, the delay stays at the cap.
    assert worker.backoff(5000) == timedelta(hours=1)
    engine.dispose()


def test_temporary_refusal_is_retried_later(
    client: TestClient, engine: Engine, worker: MailWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    smtp.handler.refuse_with = f"451 4.3.0 <{ADDRESS}> try later"
    now = utcnow()
    assert worker.deliver_due(now=now) == 0
    message = the_message(engine)
    assert message.status is OutboxStatus.PENDING
    assert message.attempts == 1
    assert "451" in message.last_error
    assert "example.org" not in message.last_error
    assert message.next_attempt_at > now
    assert smtp.messages == []

    smtp.handler.refuse_with = None
    assert worker.deliver_due(now=message.next_attempt_at) == 1
    assert [mail["To"] for mail in smtp.messages] == [ADDRESS]
    assert the_message(engine).status is OutboxStatus.SENT


def test_permanent_refusal_fails_for_good_and_keeps_no_address(
    client: TestClient,
    engine: Engine,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    smtp.handler.refuse_with = f"550 5.1.1 <{ADDRESS}>: no such user"
    caplog.set_level(logging.INFO, logger="app")
    assert worker.deliver_due() == 0
    message = the_message(engine)
    assert message.status is OutboxStatus.FAILED
    assert message.attempts == 1
    assert "550" in message.last_error
    assert "<address>" in message.last_error
    assert "example.org" not in message.last_error.lower()
    app_log = [r.getMessage() for r in caplog.records if r.name.startswith("app")]
    assert any("failed for good" in line for line in app_log)
    assert not any("example.org" in line.lower() for line in app_log)

    smtp.handler.refuse_with = None
    assert worker.deliver_due(now=utcnow() + timedelta(days=30)) == 0
    assert smtp.messages == []
    assert the_message(engine).status is OutboxStatus.FAILED


def test_attempts_exhausted_means_failed(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    worker = worker_with(engine, settings, mail_max_attempts=3)
    sign(client, letter_slug, email=ADDRESS)
    smtp.handler.refuse_with = "451 4.3.0 try later"
    now = utcnow()
    for attempt in (1, 2, 3):
        assert worker.deliver_due(now=now) == 0
        message = the_message(engine)
        assert message.attempts == attempt
        now = message.next_attempt_at
    assert message.status is OutboxStatus.FAILED

    smtp.handler.refuse_with = None
    assert worker.deliver_due(now=now + timedelta(days=1)) == 0
    assert smtp.messages == []


def test_a_mail_that_cannot_be_rendered_is_retried_and_does_not_block_others(
    client: TestClient,
    engine: Engine,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(session: Session, settings: Settings, ref_id: int) -> RenderedMail | None:
        raise RuntimeError(f"template exploded for {ADDRESS}")

    monkeypatch.setitem(mail_service._builders, "test.broken", broken)
    with open_session(engine, write=True) as session:
        enqueue(session, kind="test.broken", ref_id=1)  # first in the queue
        session.commit()
    sign(client, letter_slug, email=ADDRESS)
    now = utcnow()

    assert worker.deliver_due(now=now) == 1
    assert [mail["To"] for mail in smtp.messages] == [ADDRESS]
    broken_row, confirm_row = outbox(engine)
    assert confirm_row.status is OutboxStatus.SENT
    assert broken_row.status is OutboxStatus.PENDING
    assert broken_row.attempts == 1
    assert broken_row.last_error == "rendering failed: RuntimeError"
    assert broken_row.locked_until is None
    assert broken_row.next_attempt_at == now + worker.backoff(1)


def test_a_killed_workers_claim_runs_out_then_another_delivers(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    message_id = the_message(engine).id
    assert message_id is not None
    now = utcnow()
    assert worker._claim(message_id, now) is True  # ...and then the worker dies
    assert worker._claim(message_id, now) is False  # nobody can claim it twice

    other = worker_with(engine, settings)
    assert other.deliver_due(now=now) == 0
    assert other.deliver_due(now=now + timedelta(seconds=CLAIM_SECONDS - 1)) == 0
    assert smtp.messages == []
    assert the_message(engine).status is OutboxStatus.PENDING

    after = now + timedelta(seconds=CLAIM_SECONDS + 1)
    assert other.deliver_due(now=after) == 1
    assert len(smtp.messages) == 1
    assert the_message(engine).status is OutboxStatus.SENT


def test_two_workers_at_once_send_each_mail_once(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    addresses = [f"signer{n}@example.org" for n in range(12)]
    for address in addresses:
        assert sign(client, letter_slug, email=address).status_code == 200
    workers = [worker, worker_with(engine, settings)]
    barrier = threading.Barrier(len(workers))
    delivered: list[int] = []
    errors: list[BaseException] = []

    def run(each: MailWorker) -> None:
        try:
            barrier.wait(timeout=10)
            delivered.append(each.deliver_due())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(each,)) for each in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(delivered) == len(addresses)
    assert sorted(mail["To"] for mail in smtp.messages) == sorted(addresses)
    assert {message.status for message in outbox(engine)} == {OutboxStatus.SENT}
    assert all(message.attempts == 1 for message in outbox(engine))


def test_mail_queued_in_a_rolled_back_transaction_is_never_sent(
    client: TestClient, engine: Engine, worker: MailWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    [signature] = signatures(engine)
    assert signature.id is not None
    assert worker.deliver_due() == 1

    with open_session(engine, write=True) as session:
        enqueue(session, kind=MAIL_CONFIRM, ref_id=signature.id)
        session.flush()
        session.rollback()
    assert len(outbox(engine)) == 1
    assert worker.deliver_due() == 0
    assert len(smtp.messages) == 1

    # The same mail, committed, is sent: the rollback is what stopped it above.
    with open_session(engine, write=True) as session:
        enqueue(session, kind=MAIL_CONFIRM, ref_id=signature.id)
        session.commit()
    assert worker.deliver_due() == 1
    assert len(smtp.messages) == 2


def test_mail_about_a_withdrawn_signature_is_dropped(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    sign(client, letter_slug, email=ADDRESS)  # a duplicate: an "already signed" note
    assert [m.kind for m in outbox(engine)] == [MAIL_CONFIRM, MAIL_ALREADY_SIGNED]
    [signature] = signatures(engine)
    token = Tokens(settings.resolved_secret_keys()).make(Purpose.WITHDRAW, signature.public_id)
    act_on_link(client, f"/withdraw/{token}")
    assert signatures(engine)[0].state is SignatureState.WITHDRAWN

    assert worker.deliver_due() == 0
    assert smtp.messages == []
    for message in outbox(engine):
        assert message.status is OutboxStatus.DROPPED
        assert message.attempts == 0
        assert message.sent_at is None


def test_confirmation_of_an_already_confirmed_signature_is_dropped(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign(client, letter_slug, email=ADDRESS)
    [signature] = signatures(engine)
    token = Tokens(settings.resolved_secret_keys()).make(Purpose.CONFIRM, signature.public_id)
    act_on_link(client, f"/confirm/{token}")
    assert signatures(engine)[0].state is SignatureState.CONFIRMED

    assert worker.deliver_due() == 0
    assert smtp.messages == []
    assert the_message(engine).status is OutboxStatus.DROPPED


@pytest.mark.parametrize("host", [None, "evil.example"])
def test_mail_has_text_and_html_and_links_from_base_url(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
    host: str | None,
) -> None:
    headers = {"Host": host} if host else {}
    page = client.get(f"/letters/{letter_slug}", headers=headers)
    assert page.status_code == 200
    form = {"name": "Anna", "email": ADDRESS, "visibility": "public"}
    form["csrf_token"] = csrf_from(page.text)
    posted = client.post(f"/letters/{letter_slug}/sign", data=form, headers=headers)
    assert posted.status_code == 200
    assert worker.deliver_due() == 1

    [mail] = smtp.messages
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["From"] == settings.mail_from
    assert mail["To"] == ADDRESS
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
    act_on_link(client, found["confirm"])  # the link is genuine
    assert signatures(engine)[0].state is SignatureState.CONFIRMED


def test_console_sender_prints_subject_and_links_but_no_address(
    client: TestClient, engine: Engine, settings: Settings, letter_slug: str
) -> None:
    sign(client, letter_slug, email="Anna.Example@Example.org")
    stream = io.StringIO()
    console = MailWorker(engine=engine, settings=settings, sender=ConsoleSender(stream))
    assert console.deliver_due() == 1
    printed = stream.getvalue()
    assert "Your confirmation link from Undersigned" in printed
    confirm = re.search(re.escape(settings.base_url) + r"/confirm/[A-Za-z0-9._-]+", printed)
    withdraw = re.search(re.escape(settings.base_url) + r"/withdraw/[A-Za-z0-9._-]+", printed)
    assert confirm and withdraw
    assert "example.org" not in printed.lower()
    assert "@" not in printed
    assert the_message(engine).status is OutboxStatus.SENT
    page = client.get(confirm.group(0).removeprefix(settings.base_url))
    assert page.status_code == 200
