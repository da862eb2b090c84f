"""A person in headless Chromium, with JavaScript off as many Tor users have it: signs the demo
letter, opens the mailed link, confirms, and finds themselves counted and named.

Real browser behaviour matters here: Chromium sends ``Origin: null`` with a form POST when the
page's referrer policy is ``no-referrer``, which the app's cross-site check would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.counters.service import fold_pending
from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState, Visibility
from tests.conftest import BASE_URL
from tests.helpers import links, signatures, text_part
from tests.live import chromium_page
from tests.smtp import SMTPServer

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Path, live_server: str) -> Iterator[Page]:
    """A fresh browser without JavaScript; relative URLs go to the live server."""
    with chromium_page(live_server, java_script_enabled=False) as page:
        yield page


def submit_sign_form(page: Page) -> int:
    """Clicks Sign; returns the status of the POST itself (303 when accepted)."""
    with page.expect_response(lambda response: response.request.method == "POST") as sent:
        page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()
    return sent.value.status


def test_sign_confirm_and_be_counted_without_javascript(
    page: Page,
    live_server: str,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    page.goto(f"/letters/{letter_slug}")
    expect(page.locator(".tally .count")).to_have_text("0 signatures")

    page.get_by_label("Full name", exact=True).fill("Anna Example")
    page.get_by_label("Email", exact=True).fill("anna@example.org")
    page.get_by_label("Everyone", exact=True).check()
    assert submit_sign_form(page) == 303
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert page.url == f"{live_server}/letters/{letter_slug}/check-email"

    [stored] = signatures(engine)
    assert stored.state is SignatureState.PENDING
    assert stored.visibility is Visibility.PUBLIC
    assert worker.run_due() == 1
    [mail] = smtp.messages
    confirm_url = BASE_URL + links(mail)["confirm"]
    assert confirm_url in text_part(mail)

    page.goto(confirm_url.replace(BASE_URL, live_server, 1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your signature")
    assert signatures(engine)[0].state is SignatureState.PENDING  # opening changed nothing

    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you")
    # Shown only in answer to the button: it restates what is now public.
    assert page.url == confirm_url.replace(BASE_URL, live_server, 1)
    expect(page.locator(".publication")).to_contain_text("Anna Example")
    assert signatures(engine)[0].state is SignatureState.CONFIRMED

    fold_pending(engine)  # what the counts' recurring job does within seconds
    page.goto(f"/letters/{letter_slug}")
    expect(page.locator(".tally .count")).to_have_text("1 signature")
    expect(page.get_by_role("region", name="Recently signed")).to_contain_text("Anna Example")


def test_invalid_email_is_explained_next_to_the_field(
    page: Page, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    page.goto(f"/letters/{letter_slug}")
    page.get_by_label("Full name", exact=True).fill("Anna Example")
    page.get_by_label("Email", exact=True).fill("anna@example")
    page.get_by_label("Everyone", exact=True).check()
    assert submit_sign_form(page) == 400

    email = page.get_by_label("Email", exact=True)
    error = page.locator("#f-email-error")
    expect(error).to_be_visible()
    expect(error).to_have_class(re.compile(r"\berror\b"))
    expect(error).to_contain_text("Please enter a valid email address")
    # Next to the field, and read out with it.
    expect(page.locator(".field", has=page.locator("#f-email")).locator(".error")).to_have_count(1)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", re.compile(r"\bf-email-error\b"))
    # What was typed is kept, and no other field is blamed.
    expect(page.get_by_label("Full name", exact=True)).to_have_value("Anna Example")
    expect(email).to_have_value("anna@example")
    expect(page.get_by_label("Everyone", exact=True)).to_be_checked()
    expect(page.locator("#f-name-error")).to_have_count(0)

    assert signatures(engine) == []
    assert worker.run_due() == 0
    assert smtp.messages == []


def test_pages_request_nothing_from_other_sites(
    page: Page, live_server: str, letter_slug: str
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ("/", f"/letters/{letter_slug}", f"/letters/{letter_slug}/signatures"):
        page.goto(path)
    assert any(re.search(r"/static/style\.[0-9a-f]{12}\.css$", url) for url in requested)
    assert [url for url in requested if not url.startswith(live_server)] == []
