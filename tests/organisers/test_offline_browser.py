"""Importing paper signatures in a real browser, without JavaScript: a file with a bad row is
refused with the line and the reason, nothing counts; the fixed file is imported whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.jobs.worker import JobWorker
from tests.helpers import new_mail
from tests.live import chromium_page
from tests.organisers.helpers import add_organiser, link_in
from tests.smtp import SMTPServer

pytestmark = pytest.mark.browser

GOOD = "Anna Example,Teachers' union,Kharkiv,UA,public\n"
BAD = "Bob Example,,Vilnius,Lithuania,public\n"


@pytest.fixture
def page(chromium: Path, live_server: str) -> Iterator[Page]:
    with chromium_page(live_server, java_script_enabled=False) as page:
        yield page


def sign_in(page: Page, worker: JobWorker, smtp: SMTPServer, email: str) -> None:
    page.goto("/organise/sign-in")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    [mail] = new_mail(worker, smtp)
    page.goto(link_in(mail))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def choose_file(page: Page, content: str) -> None:
    page.get_by_label("CSV file").set_input_files(
        {"name": "prison-forms.csv", "mimeType": "text/csv", "buffer": content.encode("utf-8")}
    )


def test_import_a_file_with_a_bad_row_fix_it_and_import(
    page: Page, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    add_organiser(engine, "importer@example.org", admin=True)
    sign_in(page, worker, smtp, "importer@example.org")
    page.goto("/organise/letters/1")
    page.get_by_role("link", name="Paper signatures").click()
    page.get_by_role("link", name="Import a CSV file").click()

    header = "name,affiliation,city,country,visibility\n"
    choose_file(page, header + GOOD + BAD)
    page.get_by_label("Collected by").fill("Ilya Exiled")
    page.get_by_label("How", exact=True).fill("Paper forms signed in prisons")
    page.get_by_label("Collected on (or from)").fill("2026-02-01")
    page.get_by_role("button", name="Check and import").click()

    report = page.locator(".import-report")
    expect(report).to_contain_text("Nothing was imported: 1 problem in the file.")
    row = report.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3")
    expect(row).to_contain_text("“Lithuania” is not a country code")
    # What was typed for the attestation is still there; the file must be chosen again.
    expect(page.get_by_label("Collected by")).to_have_value("Ilya Exiled")

    choose_file(page, header + GOOD + BAD.replace("Lithuania", "LT"))
    page.get_by_role("button", name="Check and import").click()
    expect(page.locator(".notice")).to_contain_text("Imported 2 signatures from prison-forms.csv")
    expect(page.locator("#offline-count")).to_have_text("2")

    page.goto(f"/letters/{letter_slug}/signatures")
    expect(page.locator("main")).to_contain_text("Anna Example")
    expect(page.locator("main")).to_contain_text("Bob Example")
