"""The public pages of letters: which letters show, closed and draft letters, who is named,
pagination, headers, cross-site posts, and the demo letter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select
from starlette.testclient import TestClient

from app.cli import demo
from app.config import Settings
from app.db import open_session, utcnow
from app.jobs.worker import JobWorker
from app.letters.demo import DEMO_FIRST_SIGNATORIES, create_demo_letter
from app.letters.models import FirstSignatory, Letter, LetterStatus, Recipient
from app.signatures.models import SignatureState, Visibility
from tests.helpers import (
    SAME_ORIGIN,
    add_letter,
    add_signature,
    catch_up_counts,
    count,
    links,
    new_mail,
    queued_jobs,
    sign,
    signatures,
    update_letter,
)
from tests.html import Element, parse
from tests.smtp import SMTPServer

CLOSED = "This letter is closed and no longer accepts signatures."


def card_of(doc: Element, slug: str) -> Element:
    link = doc.find("a", href=f"/letters/{slug}")
    assert link is not None, f"no link to {slug}"
    return next(a for a in link.ancestors() if a.tag == "li")


def sign_form(html: str) -> Element | None:
    forms = [f for f in parse(html).find_all("form") if f.attrs.get("action", "").endswith("/sign")]
    return forms[0] if forms else None


def test_index_lists_public_letters_open_first(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    add_letter(engine, "old-letter", status=LetterStatus.CLOSED)
    add_letter(engine, "second-letter", goal=50)
    add_letter(engine, "secret-draft", status=LetterStatus.DRAFT)
    for n in range(2):
        add_signature(engine, "second-letter", name=f"Signer {n}", email=f"s{n}@example.org")
    add_signature(
        engine, "second-letter", name="Waiting", email="w@example.org", state=SignatureState.PENDING
    )

    catch_up_counts(client)  # the list shows the counts as the recurring job keeps them
    page = client.get("/")
    assert page.status_code == 200
    doc = parse(page.text)
    hrefs = [a.attrs["href"] for a in doc.find_all("a") if a.attrs.get("href", "").startswith("/l")]
    assert hrefs == ["/letters/second-letter", "/letters/all-for-all", "/letters/old-letter"]
    assert "secret-draft" not in page.text
    assert "Closed" in card_of(doc, "old-letter").text()
    assert "Closed" not in card_of(doc, "second-letter").text()
    assert "2 signatures" in card_of(doc, "second-letter").text()  # pending ones do not count
    assert "Summary of second-letter" in card_of(doc, "second-letter").text()


DRAFT_PATHS = ["", "/signatures", "/check-email", "/thank-you", "/withdrawn"]


def test_drafts_are_not_found_anywhere(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "secret-draft", status=LetterStatus.DRAFT)
    for path in DRAFT_PATHS:
        response = client.get(f"/letters/secret-draft{path}")
        assert response.status_code == 404, path
        assert "Letter secret-draft" not in response.text
    as_json = client.get("/letters/secret-draft/count.json")
    assert as_json.status_code == 404
    assert as_json.json() == {"error": "Letter not found"}
    add_letter(engine, "open-one")
    posted = client.post(
        "/letters/secret-draft/sign",
        data={"name": "Anna Example", "email": "a@example.org"},
        headers=SAME_ORIGIN,
    )
    assert posted.status_code == 404
    assert signatures(engine) == []
    assert queued_jobs(engine) == []


def test_unknown_and_odd_addresses_are_not_found(client: TestClient) -> None:
    for path in ["/letters/nope", "/letters/%00", "/letters/a%00b/count.json", "/nothing"]:
        response = client.get(path)
        assert response.status_code == 404, path


CLOSINGS = {
    "status": {"status": LetterStatus.CLOSED},
    "closes_at": {"closes_at": utcnow() - timedelta(minutes=1)},
}


@pytest.mark.parametrize("how", sorted(CLOSINGS))
def test_closed_letters_refuse_signatures(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    how: str,
) -> None:
    add_signature(engine, letter_slug, name="Early Bird", email="early@example.org")
    update_letter(engine, letter_slug, **CLOSINGS[how])

    page = client.get(f"/letters/{letter_slug}")
    assert page.status_code == 200
    assert CLOSED in page.text
    assert sign_form(page.text) is None
    assert "Early Bird" in page.text  # what was signed stays signed
    assert "Closed" in card_of(parse(client.get("/").text), letter_slug).text()

    refused = client.post(
        f"/letters/{letter_slug}/sign",
        data={"name": "Late Comer", "email": "late@example.org"},
        headers=SAME_ORIGIN,
    )
    assert refused.status_code == 409
    assert CLOSED in refused.text
    assert [s.name for s in signatures(engine)] == ["Early Bird"]
    assert queued_jobs(engine) == []
    assert new_mail(worker, smtp) == []
    assert count(client, letter_slug) == 1


def test_a_letter_closing_later_is_still_open(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    update_letter(engine, letter_slug, closes_at=utcnow() + timedelta(days=1))
    assert sign_form(client.get(f"/letters/{letter_slug}").text) is not None
    assert sign(client, letter_slug).status_code == 200
    assert len(signatures(engine)) == 1


@pytest.mark.parametrize("how", sorted(CLOSINGS))
def test_closed_letters_refuse_confirmations(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    how: str,
) -> None:
    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    update_letter(engine, letter_slug, **CLOSINGS[how])

    path = links(mail)["confirm"]
    page = client.get(path)
    assert "This letter is closed" in page.text
    assert "Confirm my signature" not in page.text  # no button that could only fail
    refused = client.post(path, data={}, headers=SAME_ORIGIN)
    assert refused.status_code == 409
    assert "This letter is closed" in refused.text
    assert [s.state for s in signatures(engine)] == [SignatureState.PENDING]
    assert count(client, letter_slug) == 0


class TestSignersPages:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"signatures_page_size": 2})

    def test_pages_of_two(self, client: TestClient, engine: Engine, letter_slug: str) -> None:
        start = utcnow() - timedelta(hours=1)
        for n in range(1, 6):
            add_signature(
                engine,
                letter_slug,
                name=f"Signer Number{n}",
                email=f"n{n}@example.org",
                confirmed_at=start + timedelta(minutes=n),
            )
        add_signature(
            engine,
            letter_slug,
            name="Silent One",
            email="s@example.org",
            visibility=Visibility.COUNTED_ONLY,
        )
        catch_up_counts(client)  # "6 people have signed" is the derived count
        expected = {
            1: (["Number1", "Number2"], False, True),
            2: (["Number3", "Number4"], True, True),
            3: (["Number5"], True, False),
        }
        for page_number, (names, has_prev, has_next) in expected.items():
            response = client.get(f"/letters/{letter_slug}/signatures?page={page_number}")
            assert response.status_code == 200
            doc = parse(response.text)
            [listed] = doc.find_all("ol")
            assert listed.attrs["start"] == str(2 * page_number - 1)
            assert re.findall(r"Number\d", listed.text()) == names
            assert f"Page {page_number} of 3" in doc.text()
            assert (doc.find("a", rel="prev") is not None) is has_prev
            assert (doc.find("a", rel="next") is not None) is has_next
            if has_next:
                assert doc.find("a", rel="next").attrs["href"] == f"?page={page_number + 1}"  # type: ignore[union-attr]
            assert "6 people have signed." in response.text
            assert "Silent One" not in response.text

        beyond = client.get(f"/letters/{letter_slug}/signatures?page=9")
        assert beyond.status_code == 200
        assert "Number5" in beyond.text and "Page 3 of 3" in beyond.text
        for bad in ["0", "-1", "abc", "100001"]:
            assert client.get(f"/letters/{letter_slug}/signatures?page={bad}").status_code == 400

        # The letter page shows the most recent first.
        letter = client.get(f"/letters/{letter_slug}").text
        assert letter.index("Number5") < letter.index("Number1")


def test_the_demo_letter(client: TestClient, engine: Engine, letter_slug: str) -> None:
    page = client.get(f"/letters/{letter_slug}")
    assert page.status_code == 200
    assert "<strong>We call on both sides of the negotiations" in page.text  # Markdown rendered
    assert "**" not in page.text
    assert len(DEMO_FIRST_SIGNATORIES) == 11
    for name, _ in DEMO_FIRST_SIGNATORIES:
        assert name in page.text
    for who in (
        "Vladimir Putin",
        "Volodymyr Zelensky",
        "António Costa",
        "Ursula von der Leyen",
        "Donald Trump",
    ):
        assert who in page.text
    with open_session(engine) as session:
        letter = session.exec(select(Letter).where(Letter.slug == letter_slug)).one()
        assert (letter.status, letter.goal) == (LetterStatus.OPEN, 10_000)
        recipients = session.exec(select(Recipient).where(Recipient.letter_id == letter.id)).all()
        firsts = session.exec(
            select(FirstSignatory).where(FirstSignatory.letter_id == letter.id)
        ).all()
    assert len(firsts) == 11
    titles = " ".join(r.title for r in recipients)
    for body in (
        "Russian Federation",
        "Ukraine",
        "European Council",
        "European Commission",
        "United States",
    ):
        assert body in titles
    assert {r.country for r in recipients} == {"RU", "UA", "BE", "US"}


def table_sizes(engine: Engine) -> tuple[int, int, int]:
    with open_session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Letter, Recipient, FirstSignatory)
        )


def test_the_demo_twice_changes_nothing(
    engine: Engine, settings: Settings, letter_slug: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = table_sizes(engine)
    assert before == (1, 5, 11)
    with open_session(engine, write=True) as session:
        assert create_demo_letter(session) is False
        session.commit()
    demo(settings)
    demo(settings)
    assert capsys.readouterr().out.count("already there") == 2
    assert table_sizes(engine) == before


def test_the_closing_date_is_shown(client: TestClient, engine: Engine, letter_slug: str) -> None:
    closes = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    update_letter(engine, letter_slug, closes_at=closes)
    page = client.get(f"/letters/{letter_slug}").text
    assert "Open for signatures until March 1, 2031." in page

    update_letter(engine, letter_slug, closes_at=datetime(2020, 3, 1, 12, 0, tzinfo=UTC))
    page = client.get(f"/letters/{letter_slug}").text
    assert "Closed on March 1, 2020." in page
    assert sign_form(page) is None
