"""Screenshots of every public page, at phone and desktop widths, for design review.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--signers 7]

Starts the app on a throwaway SQLite database with the demo letter and a few confirmed public
signers, then drives headless Chromium with JavaScript off (as many of our readers browse) and
saves full-page PNGs named ``<page>-<phone|desktop>.png`` into ./screenshots/ (gitignored).
The letter page, before and after a form with errors is sent, also gets a ``-fold`` shot of
just the screen a visitor sees first. No mail leaves: no SMTP server is set and no worker runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.live

from alembic import command
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import col, select

from app.cli import alembic_config
from app.config import Settings
from app.db import make_engine, open_session
from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.main import create_app
from app.organisers import service as organisers
from app.organisers.models import SignInLink
from app.signatures import service as signatures
from app.signatures.models import Signature, SignatureState, Visibility
from app.signatures.schemas import SignatureInput
from tests.live import CHROMIUM, CHROMIUM_ARGS, serving, throwaway_settings
from tests.pg import free_port

VIEWPORTS = {"phone": (390, 844), "desktop": (1366, 900)}
TOKEN_DAYS = 7 * 86_400.0

SIGNERS = [
    ("Maria Ivanova", "human rights lawyer", "Tbilisi", "GE"),
    ("Jonas Petrauskas", "", "Vilnius", "LT"),
    ("Léa Moreau", "Amnesty International volunteer", "Lyon", "FR"),
    ("Oleksandr Kovalenko", "journalist", "", "UA"),
    ("Sofia Andersson", "", "Uppsala", "SE"),
    ("Ahmed El-Sayed", "University of Leeds", "Leeds", "GB"),
    ("Katarzyna Nowak", "teacher", "Kraków", "PL"),
    ("Emily Chen", "", "", ""),
    ("Giorgi Beridze", "physician", "Batumi", "GE"),
    ("Hannah Müller", "Pfarrerin", "Leipzig", "DE"),
    ("Tomás Ortega", "", "Valencia", "ES"),
    ("Nadia Rahman", "student", "Toronto", "CA"),
]


def seed_signers(settings: Settings, count: int) -> None:
    """Confirmed public signers, made through the same services a request uses."""
    app = create_app(settings)
    engine = app.state.engine
    tokens: Tokens = app.state.tokens
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    for number, (name, affiliation, city, country) in enumerate(SIGNERS[:count]):
        with open_session(engine, write=True) as session:
            letter = letters.get_public_summary(session, slug=DEMO_SLUG)
            data = SignatureInput(
                name=name,
                email=f"signer{number}@example.org",
                affiliation=affiliation,
                city=city,
                country=country,
                visibility=Visibility.PUBLIC,
            )
            signatures.sign(
                session,
                letter_id=letter.id,
                data=data,
                keyring=settings.keyring(),
                limit=signatures.MailLimit(count=3, window=timedelta(days=1)),
            )
            session.commit()
        token = tokens.make(Purpose.CONFIRM, latest_public_id(settings))
        with open_session(engine, write=True) as session:
            described = signatures.describe_token(
                session,
                tokens=tokens,
                purpose=Purpose.CONFIRM,
                token=token,
                max_age_seconds=TOKEN_DAYS,
            )
            assert described.details is not None
            signatures.confirm(
                session,
                tokens=tokens,
                token=token,
                max_age_seconds=TOKEN_DAYS,
                details=described.details,
            )
            session.commit()
    engine.dispose()


def spread_confirmations(settings: Settings) -> None:
    """Signers confirmed over past weeks rather than all today, so the dashboard's chart shows
    several days."""
    app = create_app(settings)
    with open_session(app.state.engine, write=True) as session:
        for signature in session.exec(select(Signature)).all():
            assert signature.id is not None and signature.confirmed_at is not None
            signature.confirmed_at -= timedelta(days=(signature.id * 5) % 45)
            session.add(signature)
        session.commit()
    app.state.engine.dispose()


def latest_public_id(settings: Settings) -> str:
    """The opaque id of the newest signature, as a mailed link would carry it."""
    app = create_app(settings)
    with open_session(app.state.engine) as session:
        newest = session.exec(select(Signature).order_by(Signature.id.desc())).first()  # type: ignore[union-attr]
        assert newest is not None
        public_id = newest.public_id
    app.state.engine.dispose()
    return public_id


def shoot(page: Page, out: Path, name: str, width: str) -> None:
    page.screenshot(path=out / f"{name}-{width}.png", full_page=True)
    print(f"  {name}-{width}.png")


def fill_sign_form(page: Page, *, name: str, email: str) -> None:
    page.get_by_label("Full name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Everyone", exact=True).check()
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()


def sign_in_link(settings: Settings, email: str) -> str:
    """An organiser account and a fresh sign-in link, as the emailed one would be."""
    engine = make_engine(settings.resolved_database_url())
    with open_session(engine, write=True) as session:
        organisers.create_organiser(session, email=email, is_admin=True, keyring=settings.keyring())
        organisers.request_sign_in(
            session, email=email, keyring=settings.keyring(), per_hour=99, link_minutes=15
        )
        session.commit()
        link = session.exec(select(SignInLink).order_by(col(SignInLink.id).desc())).first()
        assert link is not None
    engine.dispose()
    return "/organise/sign-in/" + organisers.sign_in_token(
        Tokens(settings.resolved_secret_keys()), link
    )


def shoot_workspace(page: Page, settings: Settings, out: Path, width: str) -> None:
    page.goto(sign_in_link(settings, f"organiser-{width}@example.org"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    shoot(page, out, "organise", width)
    page.goto("/organise/letters/new")
    page.get_by_label("Title").fill("")
    page.get_by_label("Address (after /letters/)").fill("Not a slug")
    page.get_by_label("Text of the letter").fill("We ask for **everyone**.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-letter-errors", width)
    page.get_by_label("Title").fill("A second letter")
    page.get_by_label("Address (after /letters/)").fill(f"second-{width}")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-letter-preview", width)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-letter", width)
    letter_page = page.url
    page.goto(letter_page + "/recipients")
    page.get_by_label("Name").fill("")
    page.get_by_label("Country (optional)").select_option("DE")
    page.get_by_role("button", name="Add").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-recipients-errors", width)
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Title or office (optional)").fill("Federal Minister of Justice")
    page.get_by_label("Postal address (optional)").fill("Mohrenstraße 37\n10117 Berlin")
    page.get_by_role("button", name="Add").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-recipients", width)
    page.goto(letter_page.rsplit("/", 1)[0] + "/1/first-signatories")  # the demo letter's
    shoot(page, out, "organise-first-signatories", width)
    shoot_translations(page, out, width)
    page.goto(letter_page + "/audit")
    shoot(page, out, "organise-audit", width)
    shoot_moderation(page, out, width)
    shoot_offline(page, out, width)
    page.goto("/organise/letters/1/dashboard")  # the demo letter, with its signers
    shoot(page, out, "organise-dashboard", width)
    page.goto("/organise/letters/1/webhooks")
    page.get_by_label("Address (https://…)").fill("https://93.184.215.14/hooks/letter")
    page.get_by_role("button", name="Add").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-webhooks", width)
    shoot_updates(page, settings, out, width)


def shoot_updates(page: Page, settings: Settings, out: Path, width: str) -> None:
    """The demo letter's updates: a draft with a preview and a version, the send page, the
    update once sent (the fan-out waits: no worker runs), and a signer's unsubscribe page."""
    engine = make_engine(settings.resolved_database_url())
    with open_session(engine, write=True) as session:  # some signers agreed to hear more
        for signature in session.exec(select(Signature)).all():
            if signature.state is SignatureState.INVALIDATED:  # by the bulk rule shot before
                signature.state = SignatureState.CONFIRMED
            signature.may_contact = (signature.id or 0) % 3 != 0
            signature.language = "ru" if (signature.id or 0) % 2 else "en"
            session.add(signature)
        session.commit()
        public_id = session.exec(select(Signature.public_id).order_by(col(Signature.id))).first()
    engine.dispose()
    page.goto("/organise/letters/1/updates/new")
    page.get_by_label("Subject").fill("The letter was delivered")
    page.get_by_label("Text", exact=True).fill(
        "Dear signers,\n\nWe handed the letter to the **European Council** on Monday."
        " [Read the reply](https://example.org/reply).\n\n<b>raw HTML stays text</b>"
    )
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-update-preview", width)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Add a version in another language").click()
    page.get_by_label("Language code").fill("ru")
    page.get_by_label("Subject").fill("Письмо вручено")
    page.get_by_label("Text", exact=True).fill("Дорогие подписанты,\n\nмы вручили письмо.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-update-draft", width)
    page.get_by_role("link", name="Send to signers…").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-update-send", width)
    page.get_by_role("button", name=re.compile("Send it now")).click()
    page.wait_for_load_state()
    shoot(page, out, "organise-update-sent", width)
    page.goto("/organise/letters/1/updates")
    shoot(page, out, "organise-updates", width)
    if public_id is not None:
        token = Tokens(settings.resolved_secret_keys()).make(Purpose.UNSUBSCRIBE, public_id)
        page.goto(f"/letters/{DEMO_SLUG}/unsubscribe/{token}")
        shoot(page, out, "unsubscribe", width)
        page.get_by_role("button", name="Отписаться").click()  # signer 1 signed in Russian
        page.wait_for_load_state()
        shoot(page, out, "unsubscribed", width)


def shoot_translations(page: Page, out: Path, width: str) -> None:
    """The demo letter's translations, an edit, and a new one with a mistake and a preview."""
    page.goto("/organise/letters/1/translations")
    shoot(page, out, "organise-translations", width)
    page.goto("/organise/letters/1/translations/ru")
    shoot(page, out, "organise-translation-edit", width)
    page.goto("/organise/letters/1/translations/new")
    page.get_by_label("Language code").fill("english")
    page.get_by_label("Title").fill("رسالة مفتوحة")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-translation-errors", width)
    page.get_by_label("Language code").fill("ar")
    page.get_by_label("Text of the letter").fill("نكتب إليكم من السجون **الروسية**.")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-translation-preview", width)


def shoot_moderation(page: Page, out: Path, width: str) -> None:
    """The demo letter's signatures: a search, a reason left empty, a bulk rule's preview."""
    page.goto("/organise/letters/1/signatures")
    page.get_by_role("button", name="Hide name").first.click()
    page.wait_for_load_state()
    shoot(page, out, "organise-signatures", width)
    page.get_by_role("button", name="Invalidate").first.click()
    page.wait_for_load_state()
    shoot(page, out, "organise-signatures-error", width)
    page.goto("/organise/letters/1/signatures/rules")
    page.get_by_label("Email domain (for a domain rule)").fill("example.org")
    page.get_by_label("Reason", exact=True).fill("Test entries")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-rule-preview", width)
    page.get_by_role("button", name="Invalidate these signatures").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-rules", width)
    page.goto("/organise/letters/1/signatures?state=invalidated")
    shoot(page, out, "organise-signatures-invalidated", width)


def shoot_offline(page: Page, out: Path, width: str) -> None:
    """Paper signatures on the demo letter: one entered with a mistake then right, a file with
    bad rows, the clean file imported, the overview, the undo page, the marks in moderation."""
    base = "/organise/letters/1/offline"
    page.goto(f"{base}/new")
    page.get_by_label("Full name").fill("www.example.org")
    page.get_by_role("button", name="Add the signature").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-offline-entry-errors", width)
    page.get_by_label("Full name").fill(f"Paper Signer {width}")
    page.get_by_label("Collected by").fill("Ilya Yashin's team")
    page.get_by_label("How", exact=True).fill("Paper forms signed in prisons")
    page.get_by_label("Collected on (or from)").fill("2026-02-01")
    page.get_by_label("Until (optional, for a period)").fill("2026-03-15")
    page.get_by_role("button", name="Add the signature").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-offline-entry", width)
    page.goto(f"{base}/import")
    shoot(page, out, "organise-offline-import", width)
    header = "name,affiliation,city,country,visibility\n"
    rows = "".join(f"Prisoner {width.title()}{n},,Penza,RU,counted_only\n" for n in range(40))
    bad = "=HYPERLINK(1),,,,\nOlga Example,,,Russia,public\nIvan Example,,,RU,everyone,x\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "forms.csv", "mimeType": "text/csv", "buffer": (header + rows + bad).encode()}
    )
    page.get_by_role("button", name="Check and import").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-offline-import-problems", width)
    page.get_by_label("CSV file").set_input_files(
        {"name": "forms.csv", "mimeType": "text/csv", "buffer": (header + rows).encode()}
    )
    page.get_by_role("button", name="Check and import").click()
    page.wait_for_load_state()
    shoot(page, out, "organise-offline", width)
    page.get_by_role("link", name="Undo this import").first.click()
    page.wait_for_load_state()
    shoot(page, out, "organise-offline-undo", width)
    page.goto("/organise/letters/1/signatures?source=offline")
    shoot(page, out, "organise-signatures-offline", width)
    page.goto("/organise/letters/1/dashboard")
    shoot(page, out, "organise-dashboard-offline", width)


def shoot_all(browser: Browser, settings: Settings, base: str, out: Path) -> None:
    for width, (w, h) in VIEWPORTS.items():
        context = browser.new_context(
            java_script_enabled=False, base_url=base, viewport={"width": w, "height": h}
        )
        page = context.new_page()

        page.goto("/")
        shoot(page, out, "index", width)

        page.goto(f"/letters/{DEMO_SLUG}")
        page.screenshot(path=out / f"letter-fold-{width}.png")
        shoot(page, out, "letter", width)

        for language in ("ru", "uk"):  # the demo letter's translations, page text included
            page.goto(f"/letters/{DEMO_SLUG}?lang={language}")
            page.screenshot(path=out / f"letter-{language}-fold-{width}.png")
            shoot(page, out, f"letter-{language}", width)
        page.goto(f"/letters/{DEMO_SLUG}")

        fill_sign_form(page, name="A", email="not-an-address")
        page.screenshot(path=out / f"letter-errors-fold-{width}.png")  # where focus landed
        shoot(page, out, "letter-errors", width)

        page.goto(f"/letters/{DEMO_SLUG}")
        fill_sign_form(page, name=f"Reviewer on a {width}", email=f"reviewer-{width}@example.org")
        shoot(page, out, "check-email", width)

        tokens = Tokens(settings.resolved_secret_keys())
        token = tokens.make(Purpose.CONFIRM, latest_public_id(settings))
        page.goto(f"/confirm/{token}")
        shoot(page, out, "confirm", width)

        page.get_by_role("button", name="Confirm my signature").click()
        page.wait_for_load_state()
        shoot(page, out, "thank-you", width)

        page.goto(f"/letters/{DEMO_SLUG}/signatures")
        shoot(page, out, "signatures", width)

        page.goto(f"/letters/{DEMO_SLUG}/manage")
        shoot(page, out, "manage", width)

        page.goto(f"/withdraw/{tokens.make(Purpose.WITHDRAW, latest_public_id(settings))}")
        shoot(page, out, "withdraw", width)

        page.goto("/letters/no-such-letter")
        shoot(page, out, "not-found", width)

        page.goto("/docs")
        shoot(page, out, "api-docs", width)

        # A form sent from another site: the browser sets Sec-Fetch-Site itself, so the
        # refusal is fetched as such a post would be, then shown as the page it is.
        refused = page.request.post(
            f"/letters/{DEMO_SLUG}/sign",
            form={"name": "Cross Site", "email": "cross@example.org"},
            headers={"sec-fetch-site": "cross-site"},
        )
        assert refused.status == 403
        html = refused.text()
        page.route(
            "**/refused-preview",
            lambda route, _request, html=html: route.fulfill(body=html, content_type="text/html"),
        )
        page.goto("/refused-preview")
        shoot(page, out, "cross-site-refused", width)
        page.unroute("**/refused-preview")

        shoot_workspace(page, settings, out, width)

        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--signers", type=int, default=7, choices=range(len(SIGNERS) + 1))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="undersigned-shots-") as tmp:
        port = free_port()
        database_url = f"sqlite:///{tmp}/screenshots.db"
        settings = throwaway_settings(database_url, Path(tmp), f"http://127.0.0.1:{port}")
        command.upgrade(alembic_config(database_url), "head")
        seed_signers(settings, args.signers)
        spread_confirmations(settings)
        with serving(create_app(settings), port=port), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                shoot_all(browser, settings, settings.base_url, args.out)
            finally:
                browser.close()
    print(f"Saved in {args.out.resolve()}")


if __name__ == "__main__":
    main()
