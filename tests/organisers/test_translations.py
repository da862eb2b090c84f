"""Translations in the workspace: added, checked field by field, previewed, edited and removed,
audited; once the letter is open each language's text is versioned on its own."""

# ruff: noqa: RUF001 - Russian and Ukrainian text, Cyrillic letters meant

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from tests.helpers import csrf_from, sign
from tests.html import field_errors, form_values, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "translator@example.org"
LETTER = {
    "title": "Free them all",
    "slug": "free-them-all",
    "summary": "A letter for the prisoners.",
    "body_markdown": "We ask for **everyone**.",
    "language": "en",
    "goal": "",
    "closes_on": "",
}
RUSSIAN = {
    "language": "ru",
    "title": "Освободите всех",
    "summary": "Письмо в защиту заключённых.",
    "body_markdown": "Мы просим за **всех**.\n\n<script>alert(1)</script>",
}


def _post(client: TestClient, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data=data | {"csrf_token": csrf_from(page.text)})


@pytest.fixture
def overview(client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer) -> str:
    """A draft letter in English, organised by the signed-in client."""
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    created = _post(client, "/organise/letters/new", LETTER)
    assert created.status_code == 200, created.text
    return str(created.url.path)


def _move(client: TestClient, overview: str, to: str) -> None:
    token = csrf_from(client.get(overview).text)
    client.post(f"{overview}/status", data={"to": to, "csrf_token": token})


def _versions(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT number, language, title FROM letter_versions ORDER BY number")
        ).all()
    return [(number, language, title) for number, language, title in rows]


def test_add_edit_and_delete_a_translation_with_an_audit_trail(
    client: TestClient, overview: str
) -> None:
    translations = f"{overview}/translations"
    assert "Translations" in client.get(overview).text
    assert "No translations yet." in client.get(translations).text
    added = _post(client, f"{translations}/new", RUSSIAN)
    assert added.status_code == 200 and added.url.path == translations
    listed = added.text
    assert "Русский" in listed and "Освободите всех" in listed

    edit = client.get(f"{translations}/ru")
    assert edit.status_code == 200
    [form] = [
        f for f in parse(edit.text).find_all("form") if f.attrs.get("action", "").endswith("/ru")
    ]
    values = form_values(form)
    assert values["title"] == "Освободите всех" and "language" not in values
    saved = _post(client, f"{translations}/ru", RUSSIAN | {"title": "Освободите всех!"})
    assert saved.status_code == 200
    assert "Освободите всех!" in client.get(translations).text

    token = csrf_from(client.get(translations).text)
    client.post(f"{translations}/ru/delete", data={"csrf_token": token})
    assert "No translations yet." in client.get(translations).text
    assert client.get(f"{translations}/ru").status_code == 404

    audit = client.get(f"{overview}/audit").text
    assert "translation.added" in audit and "translation.deleted" in audit
    assert "translation.edited" in audit and "ru: title" in audit


def test_mistakes_are_marked_next_to_their_fields_and_nothing_is_saved(
    client: TestClient, overview: str, engine: Engine
) -> None:
    translations = f"{overview}/translations"
    cases = {
        "english": "Use a language code such as ru, uk or pt-BR.",
        "xx": "We do not know this language code",
        "en": "This is the letter's own language",
        "EN": "This is the letter's own language",
    }
    for code, message in cases.items():
        refused = _post(client, f"{translations}/new", RUSSIAN | {"language": code})
        assert refused.status_code == 400, code
        doc = parse(refused.text)
        [form] = [f for f in doc.find_all("form") if f.attrs.get("action", "").endswith("/new")]
        errors = field_errors(doc, form)
        assert set(errors) == {"language"}, (code, errors)
        assert message in errors["language"], (code, errors)
        assert form_values(form)["language"] == code  # what was typed is kept
        assert "Мы просим за **всех**." in refused.text
    empty = _post(client, f"{translations}/new", RUSSIAN | {"title": "", "body_markdown": " "})
    doc = parse(empty.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action", "").endswith("/new")]
    assert set(field_errors(doc, form)) == {"title", "body_markdown"}

    assert _post(client, f"{translations}/new", RUSSIAN).status_code == 200
    again = _post(client, f"{translations}/new", RUSSIAN | {"title": "Второй"})
    assert again.status_code == 400
    assert "The letter has a translation in this language already." in again.text
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT language, title FROM letter_translations")).all()
    assert [tuple(row) for row in rows] == [("ru", "Освободите всех")]


def test_a_region_code_is_written_the_usual_way(client: TestClient, overview: str) -> None:
    added = _post(client, f"{overview}/translations/new", RUSSIAN | {"language": "PT_br"})
    assert added.status_code == 200
    assert f"{overview}/translations/pt-BR" in added.text
    assert "Português (Brasil)" in added.text


def test_preview_shows_the_text_in_its_language_without_saving(
    client: TestClient, overview: str
) -> None:
    preview = _post(client, f"{overview}/translations/new", RUSSIAN | {"action": "preview"})
    assert preview.status_code == 200
    doc = parse(preview.text)
    [section] = doc.find_all("section", **{"class": "preview"})
    [body] = [e for e in section.iter() if e.attrs.get("lang") == "ru"]
    assert "<strong>всех</strong>" in preview.text
    assert "<script>alert(1)</script>" not in preview.text
    assert body.attrs["dir"] == "ltr"
    assert "No translations yet." in client.get(f"{overview}/translations").text
    arabic = RUSSIAN | {"language": "ar", "action": "preview"}
    rtl = _post(client, f"{overview}/translations/new", arabic)
    assert 'lang="ar" dir="rtl"' in rtl.text
    # The text is right to left; the workspace around it is not.
    html = parse(rtl.text).find("html")
    assert html is not None and (html.attrs["lang"], html.attrs["dir"]) == ("en", "ltr")


def test_each_languages_text_is_versioned_once_the_letter_is_open(
    client: TestClient, overview: str, engine: Engine
) -> None:
    translations = f"{overview}/translations"
    _post(client, f"{translations}/new", RUSSIAN)
    _post(client, f"{translations}/ru", RUSSIAN | {"title": "Освободите всех (черновик)"})
    assert _versions(engine) == []  # a draft is not versioned
    _move(client, overview, "open")
    assert _versions(engine) == [
        (1, "en", "Free them all"),
        (2, "ru", "Освободите всех (черновик)"),
    ]
    assert "изменён" not in client.get("/letters/free-them-all?lang=ru").text

    _post(client, f"{translations}/ru", RUSSIAN)
    russian = client.get("/letters/free-them-all?lang=ru").text
    assert "Текст последний раз изменён" in russian and "(версия 3)" in russian
    assert "last changed" not in client.get("/letters/free-them-all").text
    sign(client, "free-them-all", email="reader@example.org", language="ru")

    _post(client, f"{overview}/edit", LETTER | {"body_markdown": "We ask, now."})
    assert "(version 4)" in client.get("/letters/free-them-all").text
    assert "(версия 3)" in client.get("/letters/free-them-all?lang=ru").text

    ukrainian = RUSSIAN | {"language": "uk", "title": "Звільніть усіх"}
    _post(client, f"{translations}/new", ukrainian)  # on an open letter: on record at once
    assert _versions(engine)[-1] == (5, "uk", "Звільніть усіх")
    assert "змінено" not in client.get("/letters/free-them-all?lang=uk").text
    _post(client, f"{translations}/uk", ukrainian)  # unchanged: no new version
    assert len(_versions(engine)) == 5
    with engine.connect() as connection:
        signed = connection.execute(text("SELECT language, letter_version FROM signatures")).all()
    assert [tuple(row) for row in signed] == [("ru", 3)]


def test_the_letters_own_language_cannot_take_a_translations(
    client: TestClient, overview: str
) -> None:
    _post(client, f"{overview}/translations/new", RUSSIAN)
    clash = _post(client, f"{overview}/edit", LETTER | {"language": "ru"})
    assert clash.status_code == 400
    assert "The letter has a translation in this language already." in clash.text
    assert 'value="Free them all"' in clash.text


def test_a_long_letter_in_cyrillic_fits_and_other_forms_keep_their_limit(
    client: TestClient, overview: str, engine: Engine
) -> None:
    """Form encoding makes each Cyrillic letter six bytes: 40,000 of them are 240 kB."""
    paragraph = "Мы пишем вам из российских тюрем и колоний. " * 20
    body = "\n\n".join([paragraph] * 45)[:40_000]
    saved = _post(client, f"{overview}/translations/new", RUSSIAN | {"body_markdown": body})
    assert saved.status_code == 200, saved.text[:300]
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT body_markdown FROM letter_translations")).scalar()
    assert stored == body.strip() + "\n"
    token = csrf_from(client.get(overview).text)
    too_big = client.post(f"{overview}/deliveries", data={"recipient": body, "csrf_token": token})
    assert too_big.status_code == 413


def test_odd_language_addresses_are_refused(client: TestClient, overview: str) -> None:
    for odd in ("xxru", "ru-", "ru%00", "%D1%80%D1%83", "ru-RU-x-private"):
        response = client.get(f"{overview}/translations/{odd}")
        assert response.status_code in (400, 404), odd
