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
class LetterSummary:
    id: int
    slug: str
    title: str
    summary: str
    status: LetterStatus
    goal: int | None
    closes_at: datetime | None
    accepting: bool


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
