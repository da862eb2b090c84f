"""Recipients, first signatories and supporting statements from the workspace: added, edited,
reordered and deleted through the pages, audited, shown on the public letter, and out of other
organisers' reach."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.letters.models import FirstSignatory, Recipient
from app.organisers.service import add_to_letter, find_organiser_id
from tests.helpers import TEST_KEYRING, add_letter, csrf_from
from tests.html import field_errors, form_values, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "writer@example.org"
JANE = {
    "name": "Jane Doe",
    "title": "Minister of Justice",
    "organisation": "Ministry of Justice",
    "country": "de",
    "postal_address": "  Mohrenstraße 37 \r\n10117 Berlin\r\nGermany\r\n",
    "language": "de",
}


def own_letter(engine: Engine, email: str, slug: str) -> int:
    letter_id = add_letter(engine, slug)
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=email, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=letter_id)
        session.commit()
    return letter_id


@pytest.fixture
def writer(client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer) -> TestClient:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    return client


def post(client: TestClient, page: str, action: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(page).text)
    return client.post(action, data=data | {"csrf_token": token})


def stored(engine: Engine, letter_id: int) -> list[Recipient]:
    with open_session(engine) as session:
        return list(
            session.exec(
                select(Recipient)
                .where(Recipient.letter_id == letter_id)
                .order_by(col(Recipient.position))
            ).all()
        )


def test_recipients_added_edited_reordered_and_deleted(writer: TestClient, engine: Engine) -> None:
    letter_id = own_letter(engine, ORGANISER, "to-the-ministers")
    overview = writer.get(f"/organise/letters/{letter_id}").text
    base = f"/organise/letters/{letter_id}/recipients"
    assert f'href="{base}"' in overview  # linked from the letter's page

    added = post(writer, base, base, **JANE)
    assert added.status_code == 200 and added.url.path == base
    post(writer, base, base, name="John Roe", language="en")
    jane, john = stored(engine, letter_id)
    assert (jane.name, john.name) == ("Jane Doe", "John Roe")
    assert jane.country == "DE"
    assert jane.postal_address == "Mohrenstraße 37\n10117 Berlin\nGermany"
    assert "Mohrenstraße 37" in added.text  # organisers see the address

    post(writer, base, f"{base}/{john.id}/move", direction="up")
    assert [r.name for r in stored(engine, letter_id)] == ["John Roe", "Jane Doe"]
    post(writer, base, f"{base}/{john.id}/move", direction="up")  # at the top already
    assert [r.name for r in stored(engine, letter_id)] == ["John Roe", "Jane Doe"]

    edit_page = writer.get(f"{base}/{jane.id}")
    [form] = [f for f in parse(edit_page.text).find_all("form") if "sign-form" in f.attrs["class"]]
    assert form_values(form)["country"] == "DE"
    assert f">{jane.postal_address}</textarea>" in edit_page.text  # line breaks kept
    edited = post(writer, f"{base}/{jane.id}", f"{base}/{jane.id}", **(JANE | {"title": "Chair"}))
    assert edited.status_code == 200
    post(writer, base, f"{base}/{john.id}/delete")
    [left] = stored(engine, letter_id)
    assert (left.name, left.title, left.position) == ("Jane Doe", "Chair", 0)

    public = writer.get("/letters/to-the-ministers").text
    assert "Jane Doe" in public and "Chair" in public and "John Roe" not in public
    assert "Mohrenstraße" not in public  # the postal address is for delivery, not the page

    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    assert audit.count("recipient.added") == 2
    assert audit.count("recipient.moved") == 1  # the move that changed nothing is not logged
    assert "recipient.edited" in audit and "Jane Doe: title" in audit
    assert "recipient.deleted" in audit


def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(
    writer: TestClient, engine: Engine
) -> None:
    letter_id = own_letter(engine, ORGANISER, "to-the-ministers")
    base = f"/organise/letters/{letter_id}/recipients"
    response = post(writer, base, base, **(JANE | {"name": " ", "country": "XX", "language": "?"}))
    assert response.status_code == 400
    doc = parse(response.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == base]
    assert set(field_errors(doc, form)) == {"name", "country", "language"}
    assert form_values(form)["title"] == "Minister of Justice"
    assert "Mohrenstraße 37" in form_values(form)["postal_address"]
    assert stored(engine, letter_id) == []

    stale = writer.post(base, data=JANE | {"csrf_token": "forged"})
    assert stale.status_code == 400 and "nothing was saved" in stale.text
    assert stored(engine, letter_id) == []


def test_first_signatories_in_order_on_the_public_page(writer: TestClient, engine: Engine) -> None:
    letter_id = own_letter(engine, ORGANISER, "to-the-ministers")
    base = f"/organise/letters/{letter_id}/first-signatories"
    for name in ("Ada Lovelace", "Grace Hopper"):
        post(writer, base, base, name=name, description="programmer")
    with open_session(engine) as session:
        grace = session.exec(select(FirstSignatory).where(FirstSignatory.name == "Grace Hopper"))
        grace_id = grace.one().id
    post(writer, base, f"{base}/{grace_id}/move", direction="up")
    public = writer.get("/letters/to-the-ministers").text
    assert public.index("Grace Hopper") < public.index("Ada Lovelace")
    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    assert audit.count("first_signatory.added") == 2 and "first_signatory.moved" in audit


def test_another_letters_people_are_not_found_from_ones_own_letter(
    writer: TestClient, engine: Engine
) -> None:
    """The letter in the address is mine; the recipient's id is another letter's."""
    mine = own_letter(engine, ORGANISER, "mine")
    theirs = add_letter(engine, "theirs")
    post(writer, f"/organise/letters/{mine}/recipients", f"/organise/letters/{mine}/recipients",
         name="My recipient", language="en")  # fmt: skip
    with open_session(engine, write=True) as session:
        session.add(Recipient(letter_id=theirs, name="Their recipient"))
        session.commit()
    [theirs_recipient] = stored(engine, theirs)
    base = f"/organise/letters/{mine}/recipients/{theirs_recipient.id}"
    token = csrf_from(writer.get(f"/organise/letters/{mine}/recipients").text)
    assert writer.get(base).status_code == 404
    for action, data in (
        ("", {"name": "Hijacked", "language": "en"}),
        ("/move", {"direction": "up"}),
        ("/delete", {}),
    ):
        response = writer.post(f"{base}{action}", data=data | {"csrf_token": token})
        assert response.status_code == 404, action
    assert [r.name for r in stored(engine, theirs)] == ["Their recipient"]
    assert writer.get(f"/organise/letters/{theirs}/recipients").status_code == 404


def test_supporting_statements_are_printed_with_the_letter_as_text(
    writer: TestClient, engine: Engine
) -> None:
    letter_id = own_letter(engine, ORGANISER, "to-the-ministers")
    base = f"/organise/letters/{letter_id}/statements"
    missing = post(writer, base, base, name="Dmitry Muratov", description="laureate", body=" ")
    assert missing.status_code == 400
    doc = parse(missing.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == base]
    assert set(field_errors(doc, form)) == {"body"}
    assert form_values(form)["name"] == "Dmitry Muratov"

    post(writer, base, base, name="Dmitry Muratov", description="laureate",
         body="Free them all.\r\n\r\n<script>alert(1)</script> now")  # fmt: skip
    post(writer, base, base, name="Ada Lovelace", body="I agree.")
    public = writer.get("/letters/to-the-ministers").text
    section = parse(public).find("section", **{"class": "statements"})
    assert section is not None
    quotes = section.find_all("figure")
    assert [q.find_all("figcaption")[0].text() for q in quotes] == [
        "Dmitry Muratov , laureate",  # text() joins the parts with spaces
        "Ada Lovelace",
    ]
    assert [p.text() for p in quotes[0].find_all("p")] == [
        "Free them all.",
        "<script>alert(1)</script> now",
    ]
    assert "<script>alert(1)" not in public
    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    assert audit.count("statement.added") == 2
