"""Rules about letters: which are public, which accept signatures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import utcnow
from app.kit.markdown import render_markdown
from app.letters.forms import DeliveryInput, LetterInput
from app.letters.models import (
    Delivery,
    FirstSignatory,
    Letter,
    LetterStatus,
    LetterVersion,
    Recipient,
    SupportingStatement,
)
from app.letters.schemas import (
    DeliveryPublic,
    FirstSignatoryPublic,
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
    version = latest_version(session, letter_id=summary.id)
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
        version=version.number if version else None,
        text_changed_at=version.created_at if version and version.number > 1 else None,
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


TEXT_FIELDS = frozenset({"title", "summary", "body_markdown"})


def update_letter(session: Session, *, letter_id: int, data: LetterInput) -> list[str]:
    """Save the form; returns the names of the fields that changed. Once the letter has been
    public, a change to its text is a new version: what earlier signers signed stays on record."""
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise LetterNotFound(str(letter_id))
    if letter.published_at is not None and data.slug != letter.slug:
        raise SlugLocked(letter.slug)
    changed = _save_unique(session, letter, data)
    if letter.published_at is not None and TEXT_FIELDS.intersection(changed):
        record_version(session, letter=letter)
    return changed


def record_version(session: Session, *, letter: Letter) -> int:
    """Snapshot the letter's present text as its next version; returns the number."""
    latest = session.exec(
        select(func.max(LetterVersion.number)).where(LetterVersion.letter_id == letter.id)
    ).one()
    number = (latest or 0) + 1
    assert letter.id is not None
    session.add(
        LetterVersion(
            letter_id=letter.id,
            number=number,
            title=letter.title,
            summary=letter.summary,
            body_markdown=letter.body_markdown,
        )
    )
    session.flush()
    return number


def latest_version(session: Session, *, letter_id: int) -> LetterVersion | None:
    return session.exec(
        select(LetterVersion)
        .where(LetterVersion.letter_id == letter_id)
        .order_by(col(LetterVersion.number).desc())
        .limit(1)
    ).first()


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
        record_version(session, letter=letter)
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
