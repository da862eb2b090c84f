"""The translations service: the unique index decides a race for the same language, and the
request's transaction stays usable afterwards."""

# ruff: noqa: RUF001 - Ukrainian and Russian text, Cyrillic letters meant

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from app.db import open_session
from app.letters import service, translations
from app.letters.translations import TranslationInput
from tests.helpers import add_letter


def test_a_second_translation_in_the_same_language_loses_cleanly(engine: Engine) -> None:
    letter_id = add_letter(engine, "raced")
    with open_session(engine, write=True) as session:
        first = TranslationInput("uk", "Перший", "", "Текст.\n")
        translations.add_translation(session, letter_id=letter_id, data=first)
        # As if another organiser's request had added it between the form's check and now.
        with pytest.raises(service.LanguageTaken):
            translations.add_translation(
                session, letter_id=letter_id, data=TranslationInput("uk", "Другий", "", "Ні.\n")
            )
        with pytest.raises(service.LanguageTaken):  # the letter's own language
            translations.add_translation(
                session, letter_id=letter_id, data=TranslationInput("en", "Own", "", "No.\n")
            )
        translations.add_translation(
            session, letter_id=letter_id, data=TranslationInput("ru", "Первый", "", "Текст.\n")
        )
        session.commit()
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT language, title FROM letter_translations ORDER BY language")
        ).all()
        # The letter is open: each translation added is on record as a version.
        versions = (
            connection.execute(text("SELECT language FROM letter_versions ORDER BY number"))
            .scalars()
            .all()
        )
    assert [tuple(row) for row in rows] == [("ru", "Первый"), ("uk", "Перший")]
    assert versions == ["uk", "ru"]
