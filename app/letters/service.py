"""Rules about letters: which are public, which accept signatures."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.db import utcnow
from app.kit.markdown import render_markdown
from app.letters.models import FirstSignatory, Letter, LetterStatus, Recipient
from app.letters.schemas import FirstSignatoryPublic, LetterPublic, LetterSummary, RecipientPublic

PUBLIC_STATUSES = (LetterStatus.OPEN, LetterStatus.CLOSED)


class LetterNotFound(Exception):
    pass


def accepts_signatures(letter: Letter, *, now: datetime | None = None) -> bool:
    if letter.status is not LetterStatus.OPEN:
        return False
    return letter.closes_at is None or (now or utcnow()) < letter.closes_at


def _summary(letter: Letter, now: datetime) -> LetterSummary:
    assert letter.id is not None
    return LetterSummary(
        id=letter.id,
        slug=letter.slug,
        title=letter.title,
        summary=letter.summary,
        status=letter.status,
        goal=letter.goal,
        closes_at=letter.closes_at,
        accepting=accepts_signatures(letter, now=now),
    )


def list_public_letters(session: Session) -> list[LetterSummary]:
    now = utcnow()
    letters = session.exec(
        select(Letter)
        .where(col(Letter.status).in_(PUBLIC_STATUSES))
        # Open letters first: "open" sorts after "closed", hence descending.
        .order_by(col(Letter.status).desc(), col(Letter.published_at).desc(), col(Letter.id).desc())
    ).all()
    return [_summary(letter, now) for letter in letters]


def get_public_summary(session: Session, *, slug: str) -> LetterSummary:
    """Drafts are not public: they are 'not found' to everyone here."""
    if "\x00" in slug:  # PostgreSQL refuses NUL in text: no letter has one
        raise LetterNotFound(slug)
    letter = session.exec(select(Letter).where(Letter.slug == slug)).first()
    if letter is None or letter.status not in PUBLIC_STATUSES:
        raise LetterNotFound(slug)
    return _summary(letter, utcnow())


def get_summary_by_id(session: Session, *, letter_id: int) -> LetterSummary:
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    return _summary(letter, utcnow())


def get_public_letter(session: Session, *, slug: str) -> LetterPublic:
    summary = get_public_summary(session, slug=slug)
    letter = session.get_one(Letter, summary.id)
    recipients = session.exec(
        select(Recipient)
        .where(Recipient.letter_id == summary.id)
        .order_by(col(Recipient.position), col(Recipient.id))
    ).all()
    first = session.exec(
        select(FirstSignatory)
        .where(FirstSignatory.letter_id == summary.id)
        .order_by(col(FirstSignatory.position), col(FirstSignatory.id))
    ).all()
    return LetterPublic(
        id=summary.id,
        slug=letter.slug,
        title=letter.title,
        summary=letter.summary,
        body_html=render_markdown(letter.body_markdown),
        language=letter.language,
        status=letter.status,
        goal=letter.goal,
        closes_at=letter.closes_at,
        published_at=letter.published_at,
        accepting=summary.accepting,
        recipients=[
            RecipientPublic(
                name=r.name, title=r.title, organisation=r.organisation, country=r.country
            )
            for r in recipients
        ],
        first_signatories=[
            FirstSignatoryPublic(name=f.name, description=f.description) for f in first
        ],
    )
