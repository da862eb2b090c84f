"""Sending an update: only confirmed signers who agreed to hear more receive it, each once, in
their language where the update has a version in it; the fan-out works in pages through the
job queue; whoever withdraws, is invalidated or unsubscribes before their turn is skipped."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session
from app.jobs.models import JobState
from app.jobs.worker import JobWorker
from app.kit.tokens import Purpose, Tokens
from app.mail.sender import SMTPSender
from app.signatures.models import SignatureState
from app.updates import service
from tests.conftest import BASE_URL, TEST_SECRET_KEY
from tests.helpers import (
    add_letter,
    csrf_from,
    html_part,
    press_button,
    queued_jobs,
    text_part,
)
from tests.smtp import SMTPServer
from tests.updates.helpers import (
    add_version,
    letter_id_of,
    press_send,
    recipients_of,
    signed_in_organiser,
    signer,
    unsubscribe_link,
    write_update,
)


@pytest.fixture
def writer(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    return signed_in_organiser(client, engine, worker, smtp, letter_slug)


@pytest.fixture
def letter_id(engine: Engine, letter_slug: str) -> int:
    return letter_id_of(engine, letter_slug)


def sent_mail(worker: JobWorker, smtp: SMTPServer) -> list[object]:
    before = len(smtp.messages)
    worker.run_until_idle(max_passes=1000)
    return list(smtp.messages[before:])


def test_only_consenting_confirmed_signers_receive_it(
    writer: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    signer(engine, letter_slug, "yes@example.org")
    signer(engine, letter_slug, "no-consent@example.org", may_contact=False)
    signer(engine, letter_slug, "pending@example.org", state=SignatureState.PENDING)
    signer(engine, letter_slug, "invalid@example.org", state=SignatureState.INVALIDATED)
    add_letter(engine, "another-letter")
    signer(engine, "another-letter", "elsewhere@example.org")
    smtp.handler.envelopes.clear()

    update_path = write_update(writer, letter_id)
    send_page = writer.get(f"{update_path}/send")
    assert 'id="audience-count">1<' in send_page.text
    assert "yes@example.org" not in send_page.text  # no address is ever shown
    assert press_send(writer, update_path).status_code == 303

    [mail] = sent_mail(worker, smtp)
    assert recipients_of(smtp) == ["yes@example.org"]
    assert mail["Subject"] == "News from the letter"  # type: ignore[index]
    assert "We delivered it. **Thank you.**" in text_part(mail)  # type: ignore[arg-type]
    assert "<strong>Thank you.</strong>" in html_part(mail)  # type: ignore[arg-type]
    page = writer.get(update_path)
    assert 'id="update-state">Sent<' in page.text
    assert 'id="update-sent">1<' in page.text
    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    assert "update.created" in audit and "update.sent" in audit


def test_each_signer_gets_their_language_or_the_original(
    writer: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    signer(engine, letter_slug, "ru@example.org", language="ru")
    signer(engine, letter_slug, "uk@example.org", language="uk")
    signer(engine, letter_slug, "en@example.org", language="en")
    update_path = write_update(writer, letter_id, subject="Delivered", body="It is done.")
    added = add_version(writer, update_path, "ru", "Доставлено", "Письмо *вручено*.")
    assert added.status_code == 303, added.text
    # A second version in the same language, or one in the original's, is refused by name.
    again = add_version(writer, update_path, "ru", "Ещё раз", "Текст.")
    assert again.status_code == 400
    assert "There is a version in this language already" in again.text
    assert "Ещё раз" in again.text  # what was typed is kept
    original = add_version(writer, update_path, "en", "Again", "Text.")
    assert "The update itself is written in this language" in original.text

    send_page = writer.get(f"{update_path}/send").text
    assert "(the original)" in send_page
    press_send(writer, update_path)
    mails = sent_mail(worker, smtp)
    by_address = {
        envelope.rcpt_tos[0]: mail
        for envelope, mail in zip(smtp.handler.envelopes[-3:], mails, strict=True)
    }
    assert by_address["ru@example.org"]["Subject"] == "Доставлено"  # type: ignore[index]
    assert "Письмо *вручено*." in text_part(by_address["ru@example.org"])  # type: ignore[arg-type]
    assert "<em>вручено</em>" in html_part(by_address["ru@example.org"])  # type: ignore[arg-type]
    assert by_address["uk@example.org"]["Subject"] == "Delivered"  # type: ignore[index]
    assert by_address["en@example.org"]["Subject"] == "Delivered"  # type: ignore[index]


def test_a_double_press_and_retried_jobs_mail_each_signer_once(
    writer: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    """Five signers, pages of two: three fan-out jobs. Pressing twice, running every fan-out
    job again and repeating a mail job after it was sent mail nobody twice."""
    small = settings.model_copy(update={"update_fanout_batch": 2})
    worker = JobWorker(engine=engine, settings=small, sender=SMTPSender(small), recurring=())
    addresses = [f"s{n}@example.org" for n in range(5)]
    for address in addresses:
        signer(engine, letter_slug, address)
    smtp.handler.envelopes.clear()
    update_path = write_update(writer, letter_id)
    update_id = int(update_path.rsplit("/", 1)[1])
    assert press_send(writer, update_path).status_code == 303
    assert press_send_again(writer, update_path).status_code == 303
    fanouts = [job for job in queued_jobs(engine) if job.kind == service.FANOUT]
    assert len(fanouts) == 1

    sent_mail(worker, smtp)
    assert recipients_of(smtp) == sorted(addresses)
    fanouts = [job for job in queued_jobs(engine) if job.kind == service.FANOUT]
    assert len(fanouts) == 3  # pages after 0, after the 2nd and after the 4th signer
    # Every job is retried as if its worker had died before recording the outcome.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs SET state = 'pending', finished_at = NULL, attempts = 1")
        )
        connection.execute(text("UPDATE updates SET state = 'sending', fanout_after = 0"))
    sent_mail(worker, smtp)
    assert recipients_of(smtp) == sorted(addresses)  # nobody twice
    with open_session(engine) as session:
        progress = service.progress(session, update_id=update_id)
    assert (progress.queued, progress.sent, progress.dropped) == (5, 5, 0)
    assert "5 sent of 5" in writer.get(f"/organise/letters/{letter_id}/updates").text


def press_send_again(client: TestClient, update_path: str):  # type: ignore[no-untyped-def]
    """The button pressed a second time, from the page that is still open."""
    return client.post(
        f"{update_path}/send",
        data={"csrf_token": csrf_from(client.get("/organise").text)},
        follow_redirects=False,
    )


def test_whoever_withdraws_or_unsubscribes_mid_send_is_skipped(
    writer: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    signer(engine, letter_slug, "stays@example.org")
    leaves = signer(engine, letter_slug, "leaves@example.org")
    quits = signer(engine, letter_slug, "quits@example.org")
    smtp.handler.envelopes.clear()
    update_path = write_update(writer, letter_id)
    press_send(writer, update_path)
    # The fan-out runs (one job), queueing three mails; nothing is sent yet.
    worker.run_due(limit=1)
    assert smtp.handler.envelopes == []
    assert [j.state for j in queued_jobs(engine) if j.kind == service.MAIL_UPDATE] == [
        JobState.PENDING
    ] * 3
    tokens = Tokens([TEST_SECRET_KEY])
    withdrawn = press_button(writer, "/withdraw/" + tokens.make(Purpose.WITHDRAW, leaves.public_id))
    assert withdrawn.status_code == 200
    path = f"/letters/{letter_slug}/unsubscribe/" + tokens.make(
        Purpose.UNSUBSCRIBE, quits.public_id
    )
    assert press_button(writer, path).status_code == 200

    sent_mail(worker, smtp)
    assert recipients_of(smtp) == ["stays@example.org"]
    page = writer.get(update_path).text
    assert "2 (withdrew, were invalidated or unsubscribed before their turn)" in page


def test_the_mail_carries_one_click_unsubscribe_headers(
    writer: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    signer(engine, letter_slug, "reader@example.org")
    press_send(writer, write_update(writer, letter_id))
    [mail] = sent_mail(worker, smtp)
    link = unsubscribe_link(mail)  # type: ignore[arg-type]
    assert mail["List-Unsubscribe"] == f"<{BASE_URL}{link}>"  # type: ignore[index]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # type: ignore[index]
    assert link in html_part(mail)  # type: ignore[arg-type]
    # As received: one line, no RFC 2047 encoded words (which no client reads as an address).
    raw = mail.as_string(policy=mail.policy.clone(refold_source="none"))  # type: ignore[attr-defined]
    assert f"List-Unsubscribe: <{BASE_URL}{link}>" in raw
    assert mail["Message-ID"].startswith(f"<{service.MAIL_UPDATE}.")  # type: ignore[index]


def test_a_sent_update_can_no_longer_change(
    writer: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    signer(engine, letter_slug, "reader@example.org")
    update_path = write_update(writer, letter_id, subject="First words")
    press_send(writer, update_path)
    sent_mail(worker, smtp)
    page = writer.get(update_path)
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    edited = writer.post(
        update_path,
        data={
            "subject": "Other words",
            "body_markdown": "x",
            "language": "en",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    deleted = writer.post(f"{update_path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 200
    assert "First words" in writer.get(update_path).text
    assert "Other words" not in writer.get(update_path).text
    assert writer.get(f"{update_path}/send", follow_redirects=False).status_code == 303


def test_a_rush_of_send_presses_sends_once(
    writer: TestClient,
    live_server: str,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    letter_id: int,
) -> None:
    """Eight presses at once, on a real server: one fan-out, one audit entry, one mail each."""
    signer(engine, letter_slug, "one@example.org")
    signer(engine, letter_slug, "two@example.org")
    smtp.handler.envelopes.clear()
    update_path = write_update(writer, letter_id)
    token = csrf_from(writer.get(f"{update_path}/send").text)
    cookies = {"us_csrf": token, "us_organiser": writer.cookies["us_organiser"]}
    presses = 8
    barrier = threading.Barrier(presses)

    def press(_: int) -> int:
        with httpx.Client(base_url=live_server, cookies=cookies, timeout=60) as browser:
            barrier.wait(timeout=30)
            response = browser.post(
                f"{update_path}/send", data={"csrf_token": token}, follow_redirects=False
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=presses) as pool:
        assert list(pool.map(press, range(presses))) == [303] * presses
    assert len([job for job in queued_jobs(engine) if job.kind == service.FANOUT]) == 1
    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    assert audit.count("update.sent") == 1
    sent_mail(worker, smtp)
    assert recipients_of(smtp) == ["one@example.org", "two@example.org"]
