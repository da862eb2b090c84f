"""In headless Chromium, JavaScript off: an organiser writes an update, previews it, adds a
Russian version and sends it; the worker mails it; a Russian signer opens the unsubscribe link
from the mail and presses the button (a real browser sends ``Origin: null`` from that page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.db import open_session
from app.jobs.worker import JobWorker
from app.signatures.models import Signature
from tests.helpers import text_part
from tests.live import chromium_page
from tests.organisers.helpers import link_in
from tests.smtp import SMTPServer
from tests.updates.helpers import letter_id_of, organise, recipients_of, signer, unsubscribe_link

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Path, live_server: str) -> Iterator[Page]:
    with chromium_page(live_server, java_script_enabled=False) as page:
        yield page


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_write_send_and_unsubscribe_in_a_browser(
    page: Page, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    reader = signer(engine, letter_slug, "reader@example.org", language="ru")
    signer(engine, letter_slug, "quiet@example.org", may_contact=False)
    organise(engine, "writer@example.org", letter_id)

    page.goto("/organise/sign-in")
    page.get_by_label("Email", exact=True).fill("writer@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    worker.run_due()
    page.goto(link_in(smtp.messages[-1]))
    page.get_by_role("button", name="Sign in").click()
    smtp.handler.envelopes.clear()

    page.goto(f"/organise/letters/{letter_id}")
    page.get_by_role("link", name="Updates to signers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Updates to signers")
    page.get_by_role("link", name="Write an update").click()
    page.get_by_label("Subject").fill("Delivered")
    page.get_by_label("Text", exact=True).fill("We *delivered* it.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview em")).to_have_text("delivered")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Add a version in another language").click()
    page.get_by_label("Language code").fill("ru")
    page.get_by_label("Subject").fill("Доставлено")
    page.get_by_label("Text", exact=True).fill("Письмо *вручено*.")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Send to signers…").click()
    expect(page.locator("#audience-count")).to_have_text("1")
    page.get_by_role("button", name="Send it now to 1 signer", exact=True).click()
    expect(page.locator("#update-state")).to_have_text("Sending")

    worker.run_until_idle()
    assert recipients_of(smtp) == ["reader@example.org"]
    mail = smtp.messages[-1]
    assert mail["Subject"] == "Доставлено"
    assert "Письмо *вручено*." in text_part(mail)
    page.reload()
    expect(page.locator("#update-state")).to_have_text("Sent")
    expect(page.locator("#update-sent")).to_have_text("1")

    page.goto(unsubscribe_link(mail))  # in the language the reader signed in
    page.get_by_role("button", name="Отписаться").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Вы отписались")
    with open_session(engine) as session:
        assert not session.get_one(Signature, reader.id).may_contact
    assert re.search(r"/letters/[a-z-]+/unsubscribe/", page.url)
