"""Offline signatures as an organiser enters them: one by one under an attestation, or from a
CSV file that is checked line by line and imported whole or not at all; they count, show only
as the signer chose, are marked offline in the organisers' views, and an import can be undone."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from app.db import open_session
from app.exports.csv import BOM
from app.jobs.worker import JobWorker
from app.signatures.models import Signature, SignatureSource, SignatureState
from tests.helpers import TEST_KEYRING, add_letter, count, csrf_from
from tests.html import parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "paper@example.org"
SLUG = "paper-letter"
HEADER = "name,affiliation,city,country,visibility\n"


@pytest.fixture
def letter_id(engine: Engine) -> int:
    return add_letter(engine, SLUG)


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_id: int
) -> TestClient:
    from app.organisers.service import add_to_letter, find_organiser_id

    add_organiser(engine, ORGANISER)
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=ORGANISER, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=letter_id)
        session.commit()
    sign_in(client, ORGANISER, worker, smtp)
    return client


ATTESTATION = {
    "attestation": "new",
    "collector": "Ilya Exiled",
    "method": "Paper forms signed in prisons",
    "collected_from": "2026-01-10",
    "collected_until": "2026-02-20",
    "note": "Originals kept in Vilnius.",
}


def base(letter_id: int) -> str:
    return f"/organise/letters/{letter_id}/offline"


def upload(
    client: TestClient,
    letter_id: int,
    content: bytes | str,
    *,
    fields: dict[str, str] | None = None,
    name: str = "signatures.csv",
):  # type: ignore[no-untyped-def]
    page = client.get(f"{base(letter_id)}/import")
    assert page.status_code == 200, page.text
    data = (fields if fields is not None else ATTESTATION) | {"csrf_token": csrf_from(page.text)}
    body = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        f"{base(letter_id)}/import",
        data=data,
        files={"file": (name, body, "text/csv")},
        follow_redirects=False,
    )


def offline_rows(engine: Engine) -> list[Signature]:
    with open_session(engine) as session:
        return list(
            session.exec(
                select(Signature)
                .where(Signature.source == SignatureSource.OFFLINE)
                .order_by(Signature.id)  # type: ignore[arg-type]
            ).all()
        )


def problems(response) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(line, column, message) rows of the page's report of problems."""
    doc = parse(response.text)
    table = doc.find("table", class_="data-table")
    report = doc.find("section", class_="error-summary import-report")
    assert report is not None, "no report of problems on the page"
    table = report.find("table")
    assert table is not None
    found = []
    for row in table.find_all("tr")[1:]:
        cells = [cell.text() for cell in row.find_all("td")]
        found.append((cells[0], cells[1], cells[2]))
    return found


def test_bad_rows_are_reported_by_line_and_nothing_is_stored(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    content = (
        HEADER
        + "Anna Kowalska,Teacher,Kharkiv,UA,public\n"  # line 2: fine
        + '=HYPERLINK("http://evil"),,,,\n'  # 3: formula (and a link)
        + "Bob Example,,,XX,public\n"  # 4: no such country
        + "Carol Example,,,UA,everyone\n"  # 5: no such visibility
        + "\n"  # 6: blank, skipped
        + "Dan Example,,,UA\n"  # 7: a value missing
        + "Eve Example,,,ua,counted_only\n"  # 8: fine (code in lower case)
        + "E,,,,\n"  # 9: too short a name
    )
    response = upload(organiser, letter_id, content)
    assert response.status_code == 400
    found = problems(response)
    assert [line for line, _, _ in found] == ["3", "4", "5", "7", "9"]
    assert "cannot start with" in found[0][2]
    assert "“XX” is not a country code" in found[1][2]
    assert "“everyone” is not a visibility" in found[2][2]
    assert "4 values where the header has 5" in found[3][2]
    assert "Nothing was imported: 5 problems" in response.text
    assert offline_rows(engine) == []
    # What was typed for the attestation is kept.
    form = parse(response.text).find("form", enctype="multipart/form-data")
    assert form is not None
    assert 'value="Ilya Exiled"' in response.text


def test_a_clean_file_is_stored_whole_and_counts(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    before = count(organiser, SLUG)
    lines = [f"Signer Number{n},,City{n % 3},UA,public" for n in range(250)]
    response = upload(organiser, letter_id, BOM + HEADER + "\r\n".join(lines) + "\r\n\r\n")
    assert response.status_code == 303, response.text
    stored = offline_rows(engine)
    assert len(stored) == 250
    assert {s.state for s in stored} == {SignatureState.CONFIRMED}
    assert all(s.email_hash is None and s.email_encrypted is None for s in stored)
    assert len({s.attestation_id for s in stored}) == 1
    assert count(organiser, SLUG) == before + 250
    page = organiser.get(response.headers["location"])
    assert "Imported 250 signatures from signatures.csv" in page.text
    assert "Ilya Exiled" in page.text
