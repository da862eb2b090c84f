"""What the paper signature tests share: a letter and its organiser signed in (for each
module's fixtures), an attestation as typed, and a file uploaded as the import form sends it."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.signatures.models import Signature, SignatureSource
from tests.helpers import TEST_KEYRING, csrf_from
from tests.html import parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "paper@example.org"
SLUG = "paper-letter"
HEADER = "name,affiliation,city,country,visibility\n"


def signed_in_organiser(
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
    report = doc.find("section", class_="error-summary import-report")
    assert report is not None, "no report of problems on the page"
    table = report.find("table")
    assert table is not None
    found = []
    for row in table.find_all("tr")[1:]:
        cells = [cell.text() for cell in row.find_all("td")]
        found.append((cells[0], cells[1], cells[2]))
    return found
