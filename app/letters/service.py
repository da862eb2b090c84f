"""Rules about letters: which are public, which accept signatures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import utcnow
from app.kit.markdown import render_markdown
from app.letters.forms import DeliveryInput, LetterInput
from app.letters.languages import direction, normal_code, own_name
from app.letters.models import (
    Delivery,
    FirstSignatory,
    Letter,
    LetterStatus,
    LetterTranslation,
    LetterVersion,
    Recipient,
    SupportingStatement,
)
from app.letters.schemas import (
    DeliveryPublic,
    FirstSignatoryPublic,
    LanguageOption,
    LetterPublic,
    LetterSummary,
    RecipientPublic,
    StatementPublic,
)

PUBLIC_STATUSES = (LetterStatus.OPEN, LetterStatus.CLOSED, LetterStatus.DELIVERED)


class LetterNotFound(Exception):
    pass


class SlugTaken(Exception):
    """Another letter has this address already."""


class SlugLocked(Exception):
    """A letter that has been public keeps its address: links to it are out in the world."""


class LanguageTaken(Exception):
    """The letter has a translation in this language already (or it is the letter's own)."""


class TranslationNotFound(Exception):
    """No translation of this letter in this language."""


class StatusChangeRefused(Exception):
    """A move the letter's life does not allow (e.g. reopening a draft that was never open)."""


# draft -> open -> closed -> delivered, and a closed letter may open again. A letter becomes
# delivered by recording a delivery (record_delivery), never by a bare status change.
ALLOWED_MOVES = {
    (LetterStatus.DRAFT, LetterStatus.OPEN),
    (LetterStatus.OPEN, LetterStatus.CLOSED),
    (LetterStatus.CLOSED, LetterStatus.OPEN),
}


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
        language=letter.language,
        original_language=letter.language,
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


def get_public_summary(session: Session, *, slug: str, language: str = "") -> LetterSummary:
    """Drafts are not public: they are 'not found' to everyone here. With a ``language`` the
    letter has, the title and summary are in it."""
    if "\x00" in slug:  # PostgreSQL refuses NUL in text: no letter has one
        raise LetterNotFound(slug)
    letter = session.exec(select(Letter).where(Letter.slug == slug)).first()
    if letter is None or letter.status not in PUBLIC_STATUSES:
        raise LetterNotFound(slug)
    return _in_language(session, letter, language)


def _in_language(session: Session, letter: Letter, language: str) -> LetterSummary:
    summary = _summary(letter, utcnow())
    if not language:
        return summary
    text = letter_text(session, letter=letter, language=language)
    return replace(summary, title=text.title, summary=text.summary, language=text.language)


@dataclass(frozen=True, slots=True)
class LetterText:
    language: str
    title: str
    summary: str
    body_markdown: str


def find_translation(session: Session, letter_id: int, language: str) -> LetterTranslation | None:
    if not language or "\x00" in language or len(language) > 12:
        return None
    return session.exec(
        select(LetterTranslation)
        .where(LetterTranslation.letter_id == letter_id)
        .where(LetterTranslation.language == language)
    ).first()


def letter_text(session: Session, *, letter: Letter, language: str) -> LetterText:
    """The letter's text in ``language`` if it has one, else in its own language."""
    assert letter.id is not None
    code = normal_code(language)
    found = None if code == letter.language else find_translation(session, letter.id, code)
    if found is None:
        return LetterText(letter.language, letter.title, letter.summary, letter.body_markdown)
    return LetterText(found.language, found.title, found.summary, found.body_markdown)


def letter_languages(session: Session, *, letter_id: int) -> list[str]:
    """The letter's own language first, then its translations' in code order."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    others = session.exec(
        select(LetterTranslation.language)
        .where(LetterTranslation.letter_id == letter_id)
        .order_by(col(LetterTranslation.language))
    ).all()
    return [letter.language, *others]


def _options(codes: Sequence[str]) -> tuple[LanguageOption, ...]:
    return tuple(LanguageOption(code, own_name(code), direction(code)) for code in codes)


def get_summary_by_id(session: Session, *, letter_id: int, language: str = "") -> LetterSummary:
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    return _in_language(session, letter, language)


def get_public_letter(session: Session, *, slug: str, language: str = "") -> LetterPublic:
    """The public letter in ``language`` when it has that translation, else in its own."""
    summary = get_public_summary(session, slug=slug)
    letter = session.get_one(Letter, summary.id)
    text = letter_text(session, letter=letter, language=language)
    version, changed_at = _version_of(session, letter_id=summary.id, language=text.language)
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
        title=text.title,
        summary=text.summary,
        body_html=render_markdown(text.body_markdown),
        language=text.language,
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
        statements=[
            StatementPublic(name=s.name, description=s.description, body=s.body)
            for s in session.exec(
                select(SupportingStatement)
                .where(SupportingStatement.letter_id == summary.id)
                .order_by(col(SupportingStatement.position), col(SupportingStatement.id))
            ).all()
        ],
        publisher_name=letter.publisher_name,
        publisher_contact=letter.publisher_contact,
        delivery_plan=letter.delivery_plan,
        deliveries=deliveries(session, letter_id=summary.id),
        version=version,
        text_changed_at=changed_at,
        original_language=letter.language,
        direction=direction(text.language),
        languages=_options(letter_languages(session, letter_id=summary.id)),
    )


def published_on(session: Session, *, letter_id: int) -> date | None:
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    return letter.published_at.date() if letter.published_at else None


def list_letters(session: Session, *, letter_ids: list[int] | None) -> list[LetterSummary]:
    """Every letter (``None``) or these ones, drafts included: the organiser's list."""
    now = utcnow()
    query = select(Letter).order_by(col(Letter.created_at).desc(), col(Letter.id).desc())
    if letter_ids is not None:
        query = query.where(col(Letter.id).in_(letter_ids))
    return [_summary(letter, now) for letter in session.exec(query).all()]


def editable_values(session: Session, *, letter_id: int) -> dict[str, str]:
    """A letter's fields as the organiser's form shows them."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    return {
        "title": letter.title,
        "slug": letter.slug,
        "summary": letter.summary,
        "body_markdown": letter.body_markdown,
        "language": letter.language,
        "goal": str(letter.goal or ""),
        "closes_on": letter.closes_at.date().isoformat() if letter.closes_at else "",
        "publisher_name": letter.publisher_name,
        "publisher_contact": letter.publisher_contact,
        "delivery_plan": letter.delivery_plan,
    }


def _apply(letter: Letter, data: LetterInput) -> list[str]:
    changed = []
    for name in (
        "title",
        "slug",
        "summary",
        "body_markdown",
        "language",
        "goal",
        "closes_at",
        "publisher_name",
        "publisher_contact",
        "delivery_plan",
    ):
        new = getattr(data, name)
        if getattr(letter, name) != new:
            setattr(letter, name, new)
            changed.append(name)
    return changed


def _save_unique(session: Session, letter: Letter, data: LetterInput) -> list[str]:
    """Apply the form inside a savepoint: the unique index decides whether the slug is free,
    and when it says no, the request's transaction stays usable (and the letter unchanged)."""
    try:
        with session.begin_nested():
            changed = _apply(letter, data)
            session.add(letter)
            session.flush()
    except IntegrityError as exc:
        raise SlugTaken(data.slug) from exc
    return changed


def create_letter(session: Session, *, data: LetterInput) -> int:
    letter = Letter(title="", slug="", body_markdown="", status=LetterStatus.DRAFT)
    _save_unique(session, letter, data)
    assert letter.id is not None
    return letter.id


# A change to any of these, once public, is a new version. A new language code is one too:
# the text is now on record in that language.
TEXT_FIELDS = frozenset({"title", "summary", "body_markdown", "language"})


def update_letter(session: Session, *, letter_id: int, data: LetterInput) -> list[str]:
    """Save the form; returns the names of the fields that changed. Once the letter has been
    public, a change to its text is a new version: what earlier signers signed stays on record."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    if letter.published_at is not None and data.slug != letter.slug:
        raise SlugLocked(letter.slug)
    if data.language != letter.language and find_translation(session, letter_id, data.language):
        raise LanguageTaken(data.language)
    changed = _save_unique(session, letter, data)
    if letter.published_at is not None and TEXT_FIELDS.intersection(changed):
        record_version(session, letter=letter)
    return changed


def record_version(session: Session, *, letter: Letter, language: str | None = None) -> int:
    """Snapshot the letter's present text in ``language`` (its own by default) as the letter's
    next version; returns the number."""
    latest = session.exec(
        select(func.max(LetterVersion.number)).where(LetterVersion.letter_id == letter.id)
    ).one()
    number = (latest or 0) + 1
    assert letter.id is not None
    text = letter_text(session, letter=letter, language=language or letter.language)
    session.add(
        LetterVersion(
            letter_id=letter.id,
            number=number,
            language=text.language,
            title=text.title,
            summary=text.summary,
            body_markdown=text.body_markdown,
        )
    )
    session.flush()
    return number


def latest_version(
    session: Session, *, letter_id: int, language: str | None = None
) -> LetterVersion | None:
    """The newest version of the letter's text, or of its text in ``language``."""
    query = select(LetterVersion).where(LetterVersion.letter_id == letter_id)
    if language is not None:
        query = query.where(LetterVersion.language == language)
    return session.exec(query.order_by(col(LetterVersion.number).desc()).limit(1)).first()


def _version_of(
    session: Session, *, letter_id: int, language: str
) -> tuple[int | None, datetime | None]:
    """The present version of the text in ``language``, and when it last changed (None while
    that language's first version stands)."""
    first, latest = session.exec(
        select(func.min(LetterVersion.number), func.max(LetterVersion.number))
        .where(LetterVersion.letter_id == letter_id)
        .where(LetterVersion.language == language)
    ).one()
    if latest is None:
        return None, None
    if latest == first:
        return latest, None
    changed_at = session.exec(
        select(LetterVersion.created_at)
        .where(LetterVersion.letter_id == letter_id)
        .where(LetterVersion.number == latest)
    ).one()
    return latest, changed_at


def change_status(session: Session, *, letter_id: int, to: LetterStatus) -> LetterStatus:
    """Move a letter along its life; returns the status it had."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    before = letter.status
    if (before, to) not in ALLOWED_MOVES:
        raise StatusChangeRefused(f"{before.value} -> {to.value}")
    letter.status = to
    if to is LetterStatus.OPEN and letter.published_at is None:
        letter.published_at = utcnow()
        session.add(letter)
        session.flush()
        # What signers will read from now on, in every language, is on record.
        for language in letter_languages(session, letter_id=letter_id):
            record_version(session, letter=letter, language=language)
    session.add(letter)
    session.flush()
    return before


class NotReadyForDelivery(Exception):
    """Only a closed (or already delivered) letter is delivered."""


def record_delivery(session: Session, *, letter_id: int, data: DeliveryInput) -> None:
    """Log a delivery; the first one makes a closed letter delivered."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    if letter.status not in (LetterStatus.CLOSED, LetterStatus.DELIVERED):
        raise NotReadyForDelivery(letter.status.value)
    session.add(
        Delivery(
            letter_id=letter_id,
            delivered_on=data.delivered_on,
            recipient=data.recipient,
            method=data.method,
        )
    )
    letter.status = LetterStatus.DELIVERED
    session.add(letter)
    session.flush()


def deliveries(session: Session, *, letter_id: int) -> list[DeliveryPublic]:
    rows = session.exec(
        select(Delivery)
        .where(Delivery.letter_id == letter_id)
        .order_by(col(Delivery.delivered_on), col(Delivery.id))
    ).all()
    return [
        DeliveryPublic(delivered_on=row.delivered_on, recipient=row.recipient, method=row.method)
        for row in rows
    ]


def preview_html(markdown: str) -> object:
    return render_markdown(markdown)
