"""The public letters as the public API lists them: open, closed and delivered, never drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.db import utcnow
from app.letters.models import Letter, LetterStatus
from app.letters.service import PUBLIC_STATUSES, accepts_signatures


@dataclass(frozen=True, slots=True)
class LetterListed:
    id: int
    slug: str
    title: str
    summary: str
    language: str
    status: LetterStatus
    accepting: bool
    goal: int | None
    published_at: datetime | None
    closes_at: datetime | None


def _listed(letter: Letter, now: datetime) -> LetterListed:
    assert letter.id is not None
    return LetterListed(
        id=letter.id,
        slug=letter.slug,
        title=letter.title,
        summary=letter.summary,
        language=letter.language,
        status=letter.status,
        accepting=accepts_signatures(letter, now=now),
        goal=letter.goal,
        published_at=letter.published_at,
        closes_at=letter.closes_at,
    )


def public_letters(session: Session, *, slug: str | None = None) -> list[LetterListed]:
    """Every public letter (newest publication first), or the one with ``slug``."""
    query = select(Letter).where(col(Letter.status).in_(PUBLIC_STATUSES))
    if slug is not None:
        if "\x00" in slug:  # PostgreSQL refuses NUL in text: no letter has one
            return []
        query = query.where(col(Letter.slug) == slug)
    rows = session.exec(
        query.order_by(col(Letter.published_at).desc(), col(Letter.id).desc())
    ).all()
    now = utcnow()
    return [_listed(letter, now) for letter in rows]
