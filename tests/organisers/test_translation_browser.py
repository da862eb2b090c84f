"""In headless Chromium with JavaScript off: an organiser writes a letter, adds a Russian
translation and a recipient, publishes it; a reader follows the language link, signs in Russian
and gets the confirmation mail in Russian."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.jobs.worker import JobWorker
from tests.helpers import links, new_mail, signatures, text_part
from tests.live import chromium_page
from tests.organisers.helpers import add_organiser, link_in
from tests.smtp import SMTPServer

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Path, live_server: str) -> Iterator[Page]:
    with chromium_page(live_server, java_script_enabled=False) as page:
        yield page


def test_publish_a_letter_with_a_translation_and_sign_it_in_russian(
    page: Page, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, "editor@example.org")
    page.goto("/organise/sign-in")
    page.get_by_label("Email", exact=True).fill("editor@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    [mail] = new_mail(worker, smtp)
    page.goto(link_in(mail))
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="New letter").first.click()
    page.get_by_label("Title").fill("Free them all")
    page.get_by_label("Address (after /letters/)").fill("free-them-all")
    page.get_by_label("Text of the letter").fill("We ask for **everyone**.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Free them all")
    overview = page.url

    page.get_by_role("link", name="Translations").click()
    page.get_by_role("link", name="Add a translation").click()
    page.get_by_label("Language code").fill("en")
    page.get_by_label("Title").fill("Освободите всех")
    page.get_by_label("Text of the letter").fill("Мы просим за **всех**.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#f-language-error")).to_contain_text("the letter's own language")
    expect(page.get_by_label("Title")).to_have_value("Освободите всех")  # kept
    page.get_by_label("Language code").fill("ru")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview strong")).to_have_text("всех")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".people-list")).to_contain_text("Русский")

    page.goto(overview)
    page.get_by_role("link", name="Recipients").click()
    page.get_by_label("Name", exact=True).fill("Volodymyr Zelensky")
    page.get_by_label("Title or office (optional)").fill("President of Ukraine")
    page.get_by_label("Language code").fill("uk")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".people-list")).to_contain_text("Volodymyr Zelensky")

    page.goto(overview)
    page.get_by_role("button", name="Publish: open for signatures").click()
    page.get_by_role("link", name="/letters/free-them-all").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Free them all")
    expect(page.get_by_role("region", name="To")).to_contain_text("Volodymyr Zelensky")

    # A reader follows the plain link to Russian: the page, its form and its mail are Russian.
    page.get_by_role("link", name="Русский").click()
    assert page.url.endswith("/letters/free-them-all?lang=ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Освободите всех")
    page.get_by_label("Имя и фамилия", exact=True).fill("Анна Иванова")
    page.get_by_label("Электронная почта", exact=True).fill("anna@example.org")
    page.get_by_role("button", name="Подписать", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Проверьте почту")

    [stored] = signatures(engine)
    assert stored.language == "ru"
    [confirmation] = new_mail(worker, smtp)
    assert (
        "Пожалуйста, подтвердите свою подпись под открытым письмом «Освободите всех»"
        in text_part(confirmation)
    )
    page.goto(links(confirmation)["confirm"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Подтвердите подпись")
    page.get_by_role("button", name="Подтвердить подпись").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Спасибо! Ваша подпись учтена.")
