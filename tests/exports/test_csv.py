"""Contact consent from the sign form to the CSV export; the export itself: UTF-8 with BOM,
formula-safe, streamed in batches, named only as signers allowed, audit-logged."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col
from starlette.testclient import TestClient

from app.db import open_session, utcnow
from app.exports.csv import BOM, COLUMNS, csv_chunks, formula_safe
from app.jobs.worker import JobWorker
from app.organisers.service import add_to_letter, find_organiser_id
from app.signatures.models import Signature, SignatureState, Visibility
from app.signatures.reports import export_batches
from tests.helpers import (
    TEST_KEYRING,
    add_letter,
    add_signature,
    csrf_from,
    links,
    new_mail,
    press_button,
    sign,
    signatures,
)
from tests.html import form_values, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "organiser@example.org"
SLUG = "export-me"


def organise(engine: Engine, email: str, letter_id: int) -> None:
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=email, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=letter_id)
        session.commit()


@pytest.fixture
def letter_id(engine: Engine) -> int:
    return add_letter(engine, SLUG)


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_id: int
) -> TestClient:
    add_organiser(engine, ORGANISER)
    organise(engine, ORGANISER, letter_id)
    sign_in(client, ORGANISER, worker, smtp)
    return client


def allow_contact(engine: Engine, signature_id: int | None) -> None:
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature).where(col(Signature.id) == signature_id).values(may_contact=True)
        )
        session.commit()


def download(client: TestClient, letter_id: int, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/organise/letters/{letter_id}/signatures.csv{query}")
    assert response.status_code == 200, response.text
    assert response.content.startswith(BOM.encode("utf-8"))
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8").removeprefix(BOM))))


# Consent: the form, the confirm page, re-submission, withdrawal.


def test_consent_is_off_by_default_and_kept_when_ticked(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, engine: Engine, letter_id: int
) -> None:
    page = client.get(f"/letters/{SLUG}")
    assert "The organisers may email me about this letter" in page.text
    [form] = [f for f in parse(page.text).find_all("form") if "sign" in f.attrs.get("action", "")]
    assert "may_contact" not in form_values(form)  # not ticked until the signer ticks it

    sign(client, SLUG, email="quiet@example.org", name="Quiet Signer")
    sign(client, SLUG, email="open@example.org", name="Open Signer", may_contact="yes")
    assert [s.may_contact for s in signatures(engine)] == [False, True]

    shown = set()
    for mail in new_mail(worker, smtp):
        text = client.get(links(mail)["confirm"]).text
        who = "open" if 'value="Open Signer"' in text else "quiet"
        if "The organisers may email you about this letter." in text:
            shown.add((who, "may email"))
        if "they never see your address" in text:
            shown.add((who, "never"))
        assert press_button(client, links(mail)["confirm"]).status_code == 200
    assert shown == {("open", "may email"), ("quiet", "never")}  # as each signer chose
    stored = signatures(engine)
    assert [(s.state, s.may_contact) for s in stored] == [
        (SignatureState.CONFIRMED, False),
        (SignatureState.CONFIRMED, True),
    ]


def test_a_pending_resubmission_replaces_consent_and_the_confirm_page_changes_it(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, engine: Engine, letter_id: int
) -> None:
    sign(client, SLUG, email="mind@example.org", may_contact="yes")
    sign(client, SLUG, email="mind@example.org")  # changed their mind before confirming
    [signature] = signatures(engine)
    assert signature.may_contact is False
    sign(client, SLUG, email="mind@example.org", may_contact="yes")
    assert signatures(engine)[0].may_contact is True

    confirm_link = links(new_mail(worker, smtp)[-1])["confirm"]
    page = client.get(confirm_link)
    [form] = [f for f in parse(page.text).find_all("form") if f.attrs.get("method") == "post"]
    values = form_values(form)
    assert values["may_contact"] == "yes"  # shown ticked, as stored
    del values["may_contact"]  # the signer unticks it
    assert client.post(confirm_link, data=values).status_code == 200
    [signature] = signatures(engine)
    assert (signature.state, signature.may_contact) == (SignatureState.CONFIRMED, False)


def test_withdrawal_erases_consent(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, engine: Engine, letter_id: int
) -> None:
    sign(client, SLUG, email="leaving@example.org", may_contact="yes")
    mail_links = links(new_mail(worker, smtp)[-1])
    press_button(client, mail_links["confirm"])
    assert signatures(engine)[0].may_contact is True
    assert press_button(client, mail_links["withdraw"]).status_code == 200
    [signature] = signatures(engine)
    assert (signature.state, signature.may_contact) == (SignatureState.WITHDRAWN, False)


# The export.


def test_the_address_is_exported_only_with_consent(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    agreed = add_signature(engine, SLUG, name="Zoë Agreed", email="zoe@example.org", country="FR")
    add_signature(engine, SLUG, name="Kim Silent", email="kim@example.org", city="Tunis")
    add_signature(
        engine,
        SLUG,
        name="Hidden Person",
        email="hidden@example.org",
        visibility=Visibility.COUNTED_ONLY,
        affiliation="Secret Org",
        city="Somewhere",
        country="IR",
    )
    add_signature(
        engine, SLUG, name="Not Yet", email="pending@example.org", state=SignatureState.PENDING
    )
    allow_contact(engine, agreed.id)

    response = organiser.get(f"/organise/letters/{letter_id}/signatures.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{SLUG}-signatures.csv"'
    )
    body = response.content.decode("utf-8")
    assert "kim@example.org" not in body and "hidden@example.org" not in body
    assert "Hidden Person" not in body and "Secret Org" not in body and "Somewhere" not in body

    rows = download(organiser, letter_id)
    assert tuple(rows[0]) == COLUMNS
    assert [(r["number"], r["name"], r["email"]) for r in rows] == [
        ("1", "Zoë Agreed", "zoe@example.org"),
        ("2", "Kim Silent", ""),
        ("3", "", ""),  # counted, never named: not named to organisers either
    ]
    assert rows[2]["country"] == "IR" and rows[2]["visibility"] == "counted_only"
    assert rows[1]["city"] == "Tunis" and rows[0]["state"] == "confirmed"
    assert rows[0]["confirmed_at"].endswith("+00:00")

    with_pending = download(organiser, letter_id, "?include=pending")
    assert [r["name"] for r in with_pending][-1] == "Not Yet"
    assert with_pending[-1]["state"] == "pending" and with_pending[-1]["confirmed_at"] == ""


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Anna = Bob", "Anna = Bob"),
        ("Jean-Luc", "Jean-Luc"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, safe: str) -> None:
    assert formula_safe(cell) == safe


def test_stored_formulas_come_out_as_text(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    """The sign form refuses such names; rows that got in another way are escaped anyway."""
    add_signature(
        engine, SLUG, name="=HYPERLINK(1)", email="a@example.org", affiliation="@x", city="-1"
    )
    [row] = download(organiser, letter_id)
    assert (row["name"], row["affiliation"], row["city"]) == ("'=HYPERLINK(1)", "'@x", "'-1")


def test_rows_are_read_and_sent_in_batches(engine: Engine, letter_id: int) -> None:
    start = utcnow() - timedelta(days=1)
    for n in range(5):
        add_signature(
            engine, SLUG, name=f"Signer {n}", email=f"s{n}@example.org", confirmed_at=start
        )
    batches = export_batches(
        engine,
        letter_id=letter_id,
        states=[SignatureState.CONFIRMED],
        keyring=TEST_KEYRING,
        batch_size=2,
    )
    first = next(batches)
    assert [row.name for row in first] == ["Signer 0", "Signer 1"]
    # Each batch is its own read: a signer who withdraws mid-download is left out.
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature)
            .where(col(Signature.name) == "Signer 3")
            .values(state=SignatureState.WITHDRAWN, name="")
        )
        session.commit()
    rest = list(batches)
    assert [[row.name for row in batch] for batch in rest] == [["Signer 2", "Signer 4"]]

    again = export_batches(
        engine,
        letter_id=letter_id,
        states=[SignatureState.CONFIRMED],
        keyring=TEST_KEYRING,
        batch_size=2,
    )
    chunks = list(csv_chunks(again))
    assert len(chunks) == 1 + 2  # the header, then one chunk per batch
    assert chunks[0].decode("utf-8") == BOM + ",".join(COLUMNS) + "\r\n"
    assert chunks[2].decode("utf-8").startswith("3,Signer 2,")  # numbers run on across batches


def test_the_download_is_audit_logged(organiser: TestClient, letter_id: int) -> None:
    download(organiser, letter_id)
    audit = organiser.get(f"/organise/letters/{letter_id}/audit").text
    assert "export.csv" in audit and ORGANISER in audit


def test_another_organisers_letter_is_not_found(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    add_signature(engine, SLUG, name="Someone", email="someone@example.org")
    other = add_letter(engine, "not-yours")
    add_signature(engine, "not-yours", name="Not Yours", email="ny@example.org")
    response = organiser.get(f"/organise/letters/{other}/signatures.csv")
    assert response.status_code == 404 and "Not Yours" not in response.text
    assert organiser.get("/organise/letters/999999/signatures.csv").status_code == 404
    token = csrf_from(organiser.get("/organise").text)
    assert token  # still signed in: the 404 is about the letter, not the session
