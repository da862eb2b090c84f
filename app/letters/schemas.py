"""What templates and JSON see of a letter: public fields only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup

from app.letters.models import LetterStatus


@dataclass(frozen=True, slots=True)
class RecipientPublic:
    name: str
    title: str
    organisation: str
    country: str


@dataclass(frozen=True, slots=True)
class FirstSignatoryPublic:
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class StatementPublic:
    name: str
    description: str
    body: str


@dataclass(frozen=True, slots=True)
class DeliveryPublic:
    delivered_on: date
    recipient: str
    method: str


@dataclass(frozen=True, slots=True)
class LanguageOption:
    """One language a letter can be read in, as its link shows it."""

    code: str
    name: str  # in the language itself: "Русский"
    direction: str  # "ltr" or "rtl"


@dataclass(frozen=True, slots=True)
class TranslationView:
    """A translation as the workspace and letter files see it."""

    language: str
    title: str
    summary: str
    body_markdown: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LetterSummary:
    id: int
    slug: str
    title: str
    summary: str
    status: LetterStatus
    goal: int | None
    closes_at: datetime | None
    accepting: bool
    # The title and summary are in ``language``: the letter's own, or a translation's.
    language: str = "en"
    original_language: str = "en"

    @property
    def lang_query(self) -> str:
        """What links to the letter's pages add to stay in this language ("?lang=ru")."""
        return "" if self.language == self.original_language else f"?lang={self.language}"


@dataclass(frozen=True, slots=True)
class LetterPublic:
    id: int
    slug: str
    title: str
    summary: str
    body_html: Markup
    language: str
    status: LetterStatus
    goal: int | None
    closes_at: datetime | None
    published_at: datetime | None
    accepting: bool
    recipients: list[RecipientPublic]
    first_signatories: list[FirstSignatoryPublic]
    statements: list[StatementPublic]
    publisher_name: str
    publisher_contact: str
    delivery_plan: str
    deliveries: list[DeliveryPublic]
    version: int | None  # the text's present version, once public
    text_changed_at: datetime | None  # when it last changed after publication
    # The language shown (``language``) is the letter's own or one of its translations'.
    original_language: str = ""
    direction: str = "ltr"
    languages: tuple[LanguageOption, ...] = ()  # the letter's own first

    @property
    def lang_query(self) -> str:
        return "" if self.language == self.original_language else f"?lang={self.language}"
