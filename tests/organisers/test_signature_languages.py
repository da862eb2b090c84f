"""Organisers see which language each signature was signed in: a filter in the moderation
list and a table on the dashboard."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState
from tests.exports.test_csv import organise
from tests.helpers import add_signature
from tests.html import field_errors, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.organisers.test_dashboard import table_rows
from tests.smtp import SMTPServer

ORGANISER = "polyglot@example.org"


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    """The demo letter (letter 1: English, Russian, Ukrainian), with signatures in each."""
    add_organiser(engine, ORGANISER)
    organise(engine, ORGANISER, 1)
    sign_in(client, ORGANISER, worker, smtp)
    signed = [
        ("Anna Example", "en", SignatureState.CONFIRMED),
        ("Анна Иванова", "ru", SignatureState.CONFIRMED),
        ("Иван Петров", "ru", SignatureState.CONFIRMED),
        ("Олена Коваль", "uk", SignatureState.CONFIRMED),
        ("Ольга Ждёт", "ru", SignatureState.PENDING),
    ]
    for number, (name, language, state) in enumerate(signed):
        stored = add_signature(
            engine, letter_slug, name=name, email=f"s{number}@example.org", state=state
        )
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE signatures SET language = :language WHERE id = :id"),
                {"language": language, "id": stored.id},
            )
    return client


def names(html: str) -> list[str]:
    table = parse(html).find("table")
    if table is None:
        return []
    return [row.find_all("td")[0].text() for row in table.find_all("tr")[1:]]


def test_the_moderation_list_filters_by_language(organiser: TestClient) -> None:
    everyone = organiser.get("/organise/letters/1/signatures")
    select = parse(everyone.text).find("select", name="language")
    assert select is not None
    options = {o.attrs["value"]: o.text() for o in select.find_all("option")}
    assert options == {
        "": "Any",
        "en": "English (en)",
        "ru": "Русский (ru)",
        "uk": "Українська (uk)",
    }
    assert len(names(everyone.text)) == 5
    russian = organiser.get("/organise/letters/1/signatures?language=ru")
    assert sorted(names(russian.text)) == ["Анна Иванова", "Иван Петров", "Ольга Ждёт"]
    both = organiser.get("/organise/letters/1/signatures?language=RU&state=confirmed")
    assert sorted(names(both.text)) == ["Анна Иванова", "Иван Петров"]
    assert names(organiser.get("/organise/letters/1/signatures?language=de").text) == []

    bad = organiser.get("/organise/letters/1/signatures?language=%3Cscript%3E")
    assert bad.status_code == 400
    doc = parse(bad.text)
    form = doc.find("form", role="search")
    assert form is not None
    assert "Please choose a language from the list." in field_errors(doc, form)["language"]
    assert "<script>" not in bad.text


def test_the_dashboard_counts_confirmed_signatures_by_language(organiser: TestClient) -> None:
    page = organiser.get("/organise/letters/1/dashboard").text
    rows = table_rows(page, "Confirmed signatures by the language they were signed in, most first")
    assert rows == [["Русский (ru)", "2"], ["English (en)", "1"], ["Українська (uk)", "1"]]
