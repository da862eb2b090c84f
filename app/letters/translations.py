"""Translations of a letter: its text in other languages than its own, one per language.
Once the letter has been public, each added or changed translation is a new version of the
letter (app/letters/service.py numbers versions across languages)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import utcnow
from app.kit.i18n import N_
from app.letters.forms import BODY_MAX, line_error
from app.letters.languages import code_problem, normal_code
from app.letters.models import Letter, LetterTranslation
from app.letters.schemas import TranslationView
from app.letters.service import (
    LanguageTaken,
    LetterNotFound,
    TranslationNotFound,
    find_translation,
    record_version,
)


@dataclass(frozen=True, slots=True)
class TranslationInput:
    language: str
    title: str
    summary: str
    body_markdown: str


def _view(row: LetterTranslation) -> TranslationView:
    return TranslationView(
        language=row.language,
        title=row.title,
        summary=row.summary,
        body_markdown=row.body_markdown,
        updated_at=row.updated_at,
    )


def list_translations(session: Session, *, letter_id: int) -> list[TranslationView]:
    rows = session.exec(
        select(LetterTranslation)
        .where(LetterTranslation.letter_id == letter_id)
        .order_by(col(LetterTranslation.language))
    ).all()
    return [_view(row) for row in rows]


def _existing(session: Session, letter_id: int, language: str) -> LetterTranslation:
    found = find_translation(session, letter_id, language)
    if found is None:
        raise TranslationNotFound(f"{letter_id}/{language}")
    return found


def get_translation(session: Session, *, letter_id: int, language: str) -> TranslationView:
    return _view(_existing(session, letter_id, language))


def add_translation(session: Session, *, letter_id: int, data: TranslationInput) -> None:
    """A new language. The unique index decides, in a savepoint, whether it is new; on an open
    letter the text is a version at once, since signers can read and sign it from now on."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    if data.language == letter.language:
        raise LanguageTaken(data.language)
    try:
        with session.begin_nested():
            session.add(
                LetterTranslation(
                    letter_id=letter_id,
                    language=data.language,
                    title=data.title,
                    summary=data.summary,
                    body_markdown=data.body_markdown,
                )
            )
            session.flush()
    except IntegrityError as exc:
        raise LanguageTaken(data.language) from exc
    if letter.published_at is not None:
        record_version(session, letter=letter, language=data.language)


def update_translation(
    session: Session, *, letter_id: int, language: str, data: TranslationInput
) -> list[str]:
    """Save a translation's text; returns the fields that changed (a new version, once the
    letter has been public)."""
    row = _existing(session, letter_id, language)
    changed = []
    for name in ("title", "summary", "body_markdown"):
        if getattr(row, name) != getattr(data, name):
            setattr(row, name, getattr(data, name))
            changed.append(name)
    if changed:
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        letter = session.get_one(Letter, letter_id)
        if letter.published_at is not None:
            record_version(session, letter=letter, language=language)
    return changed


def delete_translation(session: Session, *, letter_id: int, language: str) -> None:
    """Its versions stay: they are what some signers signed."""
    session.delete(_existing(session, letter_id, language))
    session.flush()


def replace_translations(
    session: Session, *, letter_id: int, items: Sequence[TranslationInput]
) -> None:
    """The whole set at once (a letter file): missing languages go, the others are saved."""
    wanted = {item.language: item for item in items}
    for view in list_translations(session, letter_id=letter_id):
        if view.language not in wanted:
            delete_translation(session, letter_id=letter_id, language=view.language)
        else:
            item = wanted.pop(view.language)
            update_translation(session, letter_id=letter_id, language=item.language, data=item)
    for item in wanted.values():
        add_translation(session, letter_id=letter_id, data=item)


# --- The workspace's translation form (letter files use the same rules) -----------------------

TRANSLATION_FIELDS = ("language", "title", "summary", "body_markdown")
SAME_AS_ORIGINAL = N_("This is the letter's own language: change its text on the letter's form.")
ALREADY_TRANSLATED = N_("The letter has a translation in this language already.")


class TranslationFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    language: str = ""
    title: str = ""
    summary: str = ""
    body_markdown: str = ""
    action: str = "save"  # or "preview"
    csrf_token: str = ""


@dataclass(slots=True)
class TranslationForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_input(self) -> TranslationInput:
        if self.errors:
            raise ValueError("form has errors")
        v = self.values
        return TranslationInput(
            language=normal_code(v["language"]),
            title=v["title"].strip(),
            summary=v["summary"].strip(),
            body_markdown=v["body_markdown"].replace("\r\n", "\n").strip() + "\n",
        )


def translation_form(values: Mapping[str, str]) -> TranslationForm:
    return TranslationForm(values={name: str(values.get(name, "")) for name in TRANSLATION_FIELDS})


def parse_translation_form(
    data: Mapping[str, str], *, original: str, taken: Collection[str] = ()
) -> TranslationForm:
    """What was typed and what is wrong with it. ``original``: the letter's own language;
    ``taken``: languages it has translations in already (other than the one being edited)."""
    form = translation_form({k: str(data.get(k, ""))[: BODY_MAX + 1] for k in TRANSLATION_FIELDS})
    v = form.values
    for name, limit, required in (("title", 200, True), ("summary", 500, False)):
        if error := line_error(v[name], limit=limit, required=required):
            form.errors[name] = error
    body = v["body_markdown"].replace("\r\n", "\n").replace("\n", " ")
    if error := line_error(body, limit=BODY_MAX, required=True):
        form.errors["body_markdown"] = error
    code = normal_code(v["language"])
    if error := code_problem(code):
        form.errors["language"] = error
    elif code == original:
        form.errors["language"] = SAME_AS_ORIGINAL
    elif code in taken:
        form.errors["language"] = ALREADY_TRANSLATED
    return form
