"""What the documents show, loaded from the database once per file (templates get these
dataclasses, never rows): the letter's text in the right language, the recipient, the first
signatories, the summary figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel import Locale, UnknownLocaleError
from sqlmodel import Session, col, select

from app.letters.models import FirstSignatory, Letter, Recipient, SupportingStatement
from app.letters.service import LetterText, letter_text

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"})


@dataclass(frozen=True, slots=True)
class StatementBlock:
    name: str
    description: str
    body: str


@dataclass(frozen=True, slots=True)
class RecipientBlock:
    name: str
    title: str
    organisation: str
    postal_lines: list[str]
    language: str


@dataclass(frozen=True, slots=True)
class Summary:
    signature_count: int  # every confirmed signature, paper ones included
    named_count: int
    country_count: int
    first_signed_at: datetime | None
    last_signed_at: datetime | None

    @property
    def unnamed_count(self) -> int:
        return max(self.signature_count - self.named_count, 0)


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """Everything the first pages of one recipient's file show."""

    site_name: str
    publisher_name: str
    publisher_contact: str
    letter: LetterText
    recipient: RecipientBlock
    first_signatories: list[tuple[str, str]]
    statements: list[StatementBlock]
    summary: Summary
    list_language: str
    exported_at: datetime
    verification_code: str
    verify_url: str


def safe_locale(language: str) -> str:
    """A locale babel knows for this language tag, else English."""
    try:
        return str(Locale.parse(language.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return "en"


def is_rtl(language: str) -> bool:
    return language.split("-")[0].split("_")[0].lower() in RTL_LANGUAGES


def letter_text_for(session: Session, *, letter: Letter, language: str) -> LetterText:
    """The letter as the recipient should read it: the translation into their language when
    there is one (``pt-BR`` finds a ``pt`` translation too), else the original."""
    base = language.replace("_", "-").split("-")[0]
    for code in dict.fromkeys((language, base)):
        found = letter_text(session, letter=letter, language=code)
        if found.language != letter.language or code == letter.language:
            break
    return found


def recipient_block(recipient: Recipient, *, fallback_language: str) -> RecipientBlock:
    lines = [line.strip() for line in recipient.postal_address.splitlines() if line.strip()]
    return RecipientBlock(
        name=recipient.name,
        title=recipient.title,
        organisation=recipient.organisation,
        postal_lines=lines,
        language=recipient.language or fallback_language,
    )


def first_signatories(session: Session, *, letter_id: int) -> list[tuple[str, str]]:
    query = (
        select(FirstSignatory)
        .where(FirstSignatory.letter_id == letter_id)
        .order_by(col(FirstSignatory.position), col(FirstSignatory.id))
    )
    return [(person.name, person.description) for person in session.exec(query)]


def supporting_statements(session: Session, *, letter_id: int) -> list[StatementBlock]:
    """The letter's supporting statements, in their order."""
    query = (
        select(SupportingStatement)
        .where(SupportingStatement.letter_id == letter_id)
        .order_by(col(SupportingStatement.position), col(SupportingStatement.id))
    )
    return [
        StatementBlock(name=row.name, description=row.description, body=row.body)
        for row in session.exec(query)
    ]
