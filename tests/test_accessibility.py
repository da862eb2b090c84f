"""axe-core (from the npm registry, see tests/a11y/) in headless Chromium: no WCAG 2.2 A/AA
violation on any page a signer or an organiser meets, errors and mailed-link pages included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine
from sqlmodel import select

from app.config import Settings
from app.db import open_session
from app.jobs.worker import JobWorker
from app.kit.tokens import Purpose, Tokens
from app.signatures.models import Signature, SignatureState
from tests.conftest import TEST_SECRET_KEY, skip_for_missing
from tests.exports.pdf_files import files_of, finish_export
from tests.helpers import links, new_mail
from tests.live import chromium_page
from tests.organisers.helpers import add_organiser, link_in
from tests.smtp import SMTPServer

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        skip_for_missing("axe-core (npm ci --prefix tests/a11y, run by ./scripts/test)")
    return AXE.read_text()


@pytest.fixture
def checked_page(chromium: Path, live_server: str, axe_source: str) -> Iterator[Page]:
    # Our CSP forbids inline scripts, rightly; the check itself needs one.
    with chromium_page(live_server, bypass_csp=True) as page:
        yield page


def violations(page: Page, axe_source: str, *, allowed: tuple[str, ...] = ()) -> list[str]:
    page.add_script_tag(content=axe_source)
    found = page.evaluate(
        "([tags, allowed]) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(result => result.violations.filter(v => !allowed.includes(v.id))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' | ')))",
        [TAGS, list(allowed)],
    )
    return [str(item) for item in found]


def unsubscribe_token(engine: Engine) -> str:
    """The unsubscribe token of the one confirmed signer, as their update mail carries it."""
    with open_session(engine) as session:
        public_id = session.exec(
            select(Signature.public_id).where(Signature.state == SignatureState.CONFIRMED)
        ).one()
    return Tokens([TEST_SECRET_KEY]).make(Purpose.UNSUBSCRIBE, public_id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_page_has_an_accessibility_violation(
    checked_page: Page,
    axe_source: str,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    settings: Settings,
) -> None:
    page = checked_page
    report: dict[str, list[str]] = {}

    def check(name: str, action: Callable[[], object], allowed: tuple[str, ...] = ()) -> None:
        action()
        page.wait_for_load_state()
        report[name] = violations(page, axe_source, allowed=allowed)

    slug = letter_slug
    check("index", lambda: page.goto("/"))
    check("letter", lambda: page.goto(f"/letters/{slug}"))
    check("letter, embed codes shown", lambda: page.locator(".embed-codes summary").click())
    check("letter with errors", lambda: page.get_by_role("button", name="Sign", exact=True).click())
    page.goto(f"/letters/{slug}")
    page.get_by_label("Full name").fill("Accessible Signer")
    page.get_by_label("Email", exact=True).fill("axe@example.org")
    page.get_by_label("The organisers may email me about this letter").check()
    check("check your email", lambda: page.get_by_role("button", name="Sign", exact=True).click())
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    check("confirm", lambda: page.goto(found["confirm"]))
    check("thank you", lambda: page.get_by_role("button", name="Confirm my signature").click())
    check("withdraw", lambda: page.goto(found["withdraw"]))
    check("signers", lambda: page.goto(f"/letters/{slug}/signatures"))
    check("manage", lambda: page.goto(f"/letters/{slug}/manage"))
    check("not found", lambda: page.goto("/letters/nothing-here"))
    check("letter in Russian", lambda: page.goto(f"/letters/{slug}?lang=ru"))
    check("manage in Ukrainian", lambda: page.goto(f"/letters/{slug}/manage?lang=uk"))
    check("api reference", lambda: page.goto("/docs"))
    check("embed", lambda: page.goto(f"/letters/{slug}/embed"))
    check("embed, dark", lambda: page.goto(f"/letters/{slug}/embed?theme=dark"))

    add_organiser(engine, "axe-organiser@example.org", admin=True)
    check("sign in", lambda: page.goto("/organise/sign-in"))
    page.get_by_label("Email", exact=True).fill("axe-organiser@example.org")
    check(
        "sign-in sent", lambda: page.get_by_role("button", name="Email me a sign-in link").click()
    )
    [sign_in_mail] = new_mail(worker, smtp)
    check("sign-in link", lambda: page.goto(link_in(sign_in_mail)))
    check("workspace", lambda: page.get_by_role("button", name="Sign in").click())
    check("new letter", lambda: page.goto("/organise/letters/new"))
    check("new letter with errors", lambda: page.get_by_role("button", name="Save").click())
    page.get_by_label("Title").fill("Checked letter")
    page.get_by_label("Address (after /letters/)").fill("checked-letter")
    page.get_by_label("Text of the letter").fill("Some *text*.")
    check("preview", lambda: page.get_by_role("button", name="Preview").click())
    check("letter overview", lambda: page.get_by_role("button", name="Save").click())
    overview = page.url
    check("audit log", lambda: page.goto(overview + "/audit"))
    page.goto(overview)
    page.get_by_role("button", name="Publish: open for signatures").click()
    page.get_by_role("button", name="Close: stop accepting signatures").click()
    page.wait_for_load_state()
    check(
        "delivery with errors",
        lambda: page.get_by_role("button", name="Record the delivery").click(),
    )
    page.get_by_label("To whom").fill("The recipients")
    page.get_by_label("How (in person, by post, by email...)").fill("by post")
    check("delivered", lambda: page.get_by_role("button", name="Record the delivery").click())
    check("second factor", lambda: page.goto("/organise/second-factor"))
    check("moderation", lambda: page.goto("/organise/letters/1/signatures?state=confirmed"))
    check(
        "moderation with an error",
        lambda: page.get_by_role("button", name="Invalidate").first.click(),
    )
    check("bulk rules", lambda: page.goto("/organise/letters/1/signatures/rules"))
    page.get_by_label("Email domain (for a domain rule)").fill("example.org")
    page.get_by_label("Reason", exact=True).fill("Checked")
    check("bulk preview", lambda: page.get_by_role("button", name="Preview").click())

    check("dashboard", lambda: page.goto("/organise/letters/1/dashboard"))
    check("recipients", lambda: page.goto("/organise/letters/1/recipients"))
    check("translations", lambda: page.goto("/organise/letters/1/translations"))
    check("edit a translation", lambda: page.goto("/organise/letters/1/translations/uk"))
    check("new translation", lambda: page.goto("/organise/letters/1/translations/new"))
    check("new translation with errors", lambda: page.get_by_role("button", name="Save").click())
    page.get_by_label("Language code").fill("ar")
    page.get_by_label("Title").fill("رسالة مفتوحة")
    page.get_by_label("Text of the letter").fill("نص **الرسالة**.")
    check("translation preview", lambda: page.get_by_role("button", name="Preview").click())
    check("statements", lambda: page.goto("/organise/letters/1/statements"))

    check("updates", lambda: page.goto("/organise/letters/1/updates"))
    check("new update", lambda: page.goto("/organise/letters/1/updates/new"))
    check("update with errors", lambda: page.get_by_role("button", name="Save").click())
    page.get_by_label("Subject").fill("Delivered")
    page.get_by_label("Text", exact=True).fill("It is *done*.")
    check("update preview", lambda: page.get_by_role("button", name="Preview").click())
    check("update draft", lambda: page.get_by_role("button", name="Save").click())
    check(
        "update version",
        lambda: page.get_by_role("link", name="Add a version in another language").click(),
    )
    page.get_by_label("Language code").fill("ru")
    page.get_by_label("Subject").fill("Доставлено")
    page.get_by_label("Text", exact=True).fill("Готово.")
    page.get_by_role("button", name="Save").click()
    check("update send", lambda: page.get_by_role("link", name="Send to signers…").click())
    check(
        "update sent",
        lambda: page.get_by_role("button", name="Send it now to 1 signer", exact=True).click(),
    )
    unsubscribe = f"/letters/{slug}/unsubscribe/" + unsubscribe_token(engine)
    check("unsubscribe", lambda: page.goto(unsubscribe))
    check("unsubscribed", lambda: page.get_by_role("button", name="Unsubscribe").click())

    check("webhooks", lambda: page.goto("/organise/letters/1/webhooks"))
    page.get_by_label("Address (https://…)").fill("ftp://example.org/")
    check("webhook with an error", lambda: page.get_by_role("button", name="Add").click())
    page.get_by_label("Address (https://…)").fill("https://93.184.215.14/hook")
    check("webhook added", lambda: page.get_by_role("button", name="Add").click())

    check("paper signatures", lambda: page.goto("/organise/letters/1/offline"))
    check("paper signature", lambda: page.goto("/organise/letters/1/offline/new"))
    check(
        "paper signature with errors",
        lambda: page.get_by_role("button", name="Add the signature").click(),
    )
    check("import", lambda: page.goto("/organise/letters/1/offline/import"))
    header = "name,affiliation,city,country,visibility\n"
    csv_file = {"name": "forms.csv", "mimeType": "text/csv"}
    page.get_by_label("CSV file").set_input_files(
        csv_file | {"buffer": (header + "Anna Example,,,XX,\n=1+1,,,,\n").encode()}
    )
    page.get_by_label("Collected by").fill("Checked Collector")
    page.get_by_label("How", exact=True).fill("Paper forms")
    page.get_by_label("Collected on (or from)").fill("2026-01-05")
    check(
        "import with problems", lambda: page.get_by_role("button", name="Check and import").click()
    )
    page.get_by_label("CSV file").set_input_files(
        csv_file | {"buffer": (header + "Anna Example,,,UA,public\n").encode()}
    )
    check("imported", lambda: page.get_by_role("button", name="Check and import").click())
    check("undo import", lambda: page.goto("/organise/letters/1/offline/imports/1/undo"))
    check("moderation with offline", lambda: page.goto("/organise/letters/1/signatures"))

    page.goto("/organise/letters/1/dashboard")
    page.get_by_label("For", exact=True).select_option(label="All recipients (5)")
    # Having just asked for the letters, the organiser watches them being made: that page
    # reloads itself (meta refresh, as asked, with a link that stops it), which axe reports
    # whatever the reason; the same page opened later does not, and passes every rule.
    check(
        "pdf watched",
        lambda: page.get_by_role("button", name="Make PDF letters").click(),
        allowed=("meta-refresh",),
    )
    export_id = int(page.url.split("?")[0].rsplit("/", 1)[1])
    check("pdf waiting", lambda: page.goto(f"/organise/letters/1/pdf/{export_id}"))
    finish_export(engine, settings, export_id)
    check("pdf done", lambda: page.reload())
    code = files_of(engine, export_id)[0].verification_code
    check("pdf verify", lambda: page.goto(f"/letters/{slug}/verify/{code}"))
    page.get_by_label("Or paste the file's SHA-256 fingerprint").fill("not a fingerprint")
    check(
        "pdf verify with an error",
        lambda: page.get_by_role("button", name="Compare the fingerprint").click(),
    )
    page.get_by_label("Or paste the file's SHA-256 fingerprint").fill("0" * 64)
    check(
        "pdf verify, no match",
        lambda: page.get_by_role("button", name="Compare the fingerprint").click(),
    )
    check("pdf verify not found", lambda: page.goto(f"/letters/{slug}/verify/0000-0000-0000"))
    check(
        "pdf link refused",
        lambda: page.goto(f"/organise/letters/1/pdf/{export_id}/files/1?token=forged"),
    )

    assert len(report) == 69
    assert {name: found for name, found in report.items() if found} == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_check_finds_violations(checked_page: Page, axe_source: str) -> None:
    """The check is live: a page with an unlabelled field and an image without text fails."""
    checked_page.set_content(
        '<html lang="en"><body><input type="text"><img src="x.png"></body></html>'
    )
    found = violations(checked_page, axe_source)
    assert any(item.startswith("label") for item in found)
    assert any(item.startswith("image-alt") for item in found)
