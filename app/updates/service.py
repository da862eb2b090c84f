"""Rules for updates: drafts and their versions, who will receive one, sending it once.

Sending is a state change (draft → sending) that only one press can make, and it queues one
fan-out job. The fan-out reads the contactable signers by keyset pages (``update_fanout_batch``
at a time, never all of them), makes one delivery row per signer, unique per update, and one
mail job per new row, then hands on to a job for the next page. A retried or doubled job finds
the rows made and queues nothing twice; the mail job checks the signer again at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.db import utcnow
from app.jobs import service as jobs
from app.kit.markdown import render_markdown
from app.signatures import contact
from app.updates.forms import UpdateForm
from app.updates.models import Update, UpdateDelivery, UpdateState, UpdateVersion

FANOUT = "update.fanout"
MAIL_UPDATE = "update.mail"
_DELIVERIES: Table = UpdateDelivery.__table__  # type: ignore[attr-defined]
_VERSIONS: Table = UpdateVersion.__table__  # type: ignore[attr-defined]


class UpdateNotFound(Exception):
    """No such update on this letter (shown as 'not found')."""


class UpdateNotDraft(Exception):
    """The update has been sent: it can no longer change."""


class VersionExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class VersionView:
    id: int
    language: str
    subject: str
    body_markdown: str


@dataclass(frozen=True, slots=True)
class UpdateView:
    id: int
    letter_id: int
    subject: str
    body_markdown: str
    language: str
    state: UpdateState
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None
    recipients: int
    versions: list[VersionView]

    @property
    def is_draft(self) -> bool:
        return self.state is UpdateState.DRAFT

    @property
    def languages(self) -> list[str]:
        return [self.language, *(version.language for version in self.versions)]

    def form_values(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "language": self.language,
            "body_markdown": self.body_markdown,
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a sent update has gone: mails sent, and mails not sent (signer gone since)."""

    queued: int
    sent: int
    dropped: int


@dataclass(frozen=True, slots=True)
class Audience:
    """Who would receive the update if it were sent now, by the language they get it in."""

    total: int
    by_language: list[tuple[str, int]]


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _row(session: Session, *, letter_id: int, update_id: int) -> Update:
    row = session.get(Update, update_id)
    if row is None or row.letter_id != letter_id:
        raise UpdateNotFound(f"{letter_id}/{update_id}")
    return row


def _draft(session: Session, *, letter_id: int, update_id: int) -> Update:
    row = _row(session, letter_id=letter_id, update_id=update_id)
    if row.state is not UpdateState.DRAFT:
        raise UpdateNotDraft(f"{update_id}")
    return row


def _locked_draft(session: Session, *, letter_id: int, update_id: int) -> Update:
    """The draft, row-locked until the transaction ends (a no-op write on PostgreSQL; SQLite
    has one writer): a version changed at the moment send is pressed either lands before the
    send, or is refused after it. It never slips into an update being mailed."""
    row = _draft(session, letter_id=letter_id, update_id=update_id)
    held = session.execute(
        update(Update)
        .where(col(Update.id) == update_id)
        .where(col(Update.state) == UpdateState.DRAFT)
        .values(state=UpdateState.DRAFT)
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        raise UpdateNotDraft(f"{update_id}")
    session.refresh(row)
    return row


def _versions(session: Session, update_id: int) -> list[VersionView]:
    rows = session.exec(
        select(UpdateVersion)
        .where(UpdateVersion.update_id == update_id)
        .order_by(col(UpdateVersion.language))
    ).all()
    return [
        VersionView(
            id=row.id or 0,
            language=row.language,
            subject=row.subject,
            body_markdown=row.body_markdown,
        )
        for row in rows
    ]


def _view(session: Session, row: Update) -> UpdateView:
    assert row.id is not None
    return UpdateView(
        id=row.id,
        letter_id=row.letter_id,
        subject=row.subject,
        body_markdown=row.body_markdown,
        language=row.language,
        state=row.state,
        created_at=row.created_at,
        sent_at=row.sent_at,
        finished_at=row.finished_at,
        recipients=row.recipients,
        versions=_versions(session, row.id),
    )


def get_update(session: Session, *, letter_id: int, update_id: int) -> UpdateView:
    return _view(session, _row(session, letter_id=letter_id, update_id=update_id))


def list_updates(session: Session, *, letter_id: int) -> list[UpdateView]:
    rows = session.exec(
        select(Update)
        .where(Update.letter_id == letter_id)
        .order_by(col(Update.created_at).desc(), col(Update.id).desc())
    ).all()
    return [_view(session, row) for row in rows]


def create_update(
    session: Session, *, letter_id: int, organiser_id: int | None, form: UpdateForm
) -> int:
    row = Update(
        letter_id=letter_id,
        organiser_id=organiser_id,
        subject=form.values["subject"],
        body_markdown=form.values["body_markdown"],
        language=form.values["language"],
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def save_update(session: Session, *, letter_id: int, update_id: int, form: UpdateForm) -> None:
    """The original's subject, text and language. Its language may not be one a version is
    written in (that version would never be read; the organiser deletes it first)."""
    _locked_draft(session, letter_id=letter_id, update_id=update_id)
    if any(v.language == form.values["language"] for v in _versions(session, update_id)):
        raise VersionExists(form.values["language"])
    changed = session.execute(
        update(Update)
        .where(col(Update.id) == update_id)
        .where(col(Update.state) == UpdateState.DRAFT)  # not if a send won the race
        .values(
            subject=form.values["subject"],
            body_markdown=form.values["body_markdown"],
            language=form.values["language"],
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise UpdateNotDraft(f"{update_id}")


def delete_update(session: Session, *, letter_id: int, update_id: int) -> None:
    _draft(session, letter_id=letter_id, update_id=update_id)
    session.execute(
        delete(Update)
        .where(col(Update.id) == update_id)
        .where(col(Update.state) == UpdateState.DRAFT)
    )


def get_version(
    session: Session, *, letter_id: int, update_id: int, version_id: int
) -> VersionView:
    _row(session, letter_id=letter_id, update_id=update_id)
    for version in _versions(session, update_id):
        if version.id == version_id:
            return version
    raise UpdateNotFound(f"{update_id}/{version_id}")


def add_version(session: Session, *, letter_id: int, update_id: int, form: UpdateForm) -> int:
    """A version in a language the update has no text in yet (the database decides)."""
    row = _locked_draft(session, letter_id=letter_id, update_id=update_id)
    if form.values["language"] == row.language:
        raise VersionExists(row.language)
    statement = (
        _insert(session)(_VERSIONS)
        .values(
            update_id=update_id,
            language=form.values["language"],
            subject=form.values["subject"],
            body_markdown=form.values["body_markdown"],
        )
        .on_conflict_do_nothing(index_elements=["update_id", "language"])
        .returning(_VERSIONS.c.id)
    )
    version_id = session.execute(statement).scalar_one_or_none()
    if version_id is None:
        raise VersionExists(form.values["language"])
    return int(version_id)


def save_version(
    session: Session, *, letter_id: int, update_id: int, version_id: int, form: UpdateForm
) -> None:
    """A version's subject and text (its language stays: delete it to make another)."""
    _locked_draft(session, letter_id=letter_id, update_id=update_id)
    get_version(session, letter_id=letter_id, update_id=update_id, version_id=version_id)
    session.execute(
        update(UpdateVersion)
        .where(col(UpdateVersion.id) == version_id)
        .values(subject=form.values["subject"], body_markdown=form.values["body_markdown"])
    )


def delete_version(session: Session, *, letter_id: int, update_id: int, version_id: int) -> str:
    _locked_draft(session, letter_id=letter_id, update_id=update_id)
    version = get_version(session, letter_id=letter_id, update_id=update_id, version_id=version_id)
    session.execute(delete(UpdateVersion).where(col(UpdateVersion.id) == version_id))
    return version.language


def contactable(session: Session, *, letter_id: int) -> int:
    """Signers who would receive an update sent now."""
    return contact.count_contactable(session, letter_id=letter_id)


def audience(session: Session, *, letter_id: int, languages: list[str]) -> Audience:
    """Who would receive it now: confirmed, consenting, not withdrawn or invalidated; by the
    language of the text each gets (their own where the update has it, else the original)."""
    original = languages[0]
    counts: dict[str, int] = {}
    for language, number in contact.contactable_by_language(session, letter_id=letter_id).items():
        chosen = language if language in languages else original
        counts[chosen] = counts.get(chosen, 0) + number
    ordered = sorted(counts.items(), key=lambda item: (item[0] != original, item[0]))
    return Audience(total=sum(counts.values()), by_language=ordered)


def start_sending(session: Session, *, letter_id: int, update_id: int) -> int | None:
    """Draft → sending, and the first fan-out job. Only one press can do it: a second (or a
    race of two) finds the update no longer a draft and returns None."""
    _row(session, letter_id=letter_id, update_id=update_id)
    planned = contact.count_contactable(session, letter_id=letter_id)
    now = utcnow()
    moved = session.execute(
        update(Update)
        .where(col(Update.id) == update_id)
        .where(col(Update.state) == UpdateState.DRAFT)
        .values(state=UpdateState.SENDING, sent_at=now, recipients=planned, fanout_after=0)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    _schedule_fanout(session, update_id=update_id, after=0)
    return planned


def _schedule_fanout(session: Session, *, update_id: int, after: int) -> None:
    # One job per page of signers, whoever asks for it: a doubled job cannot double the chain.
    jobs.schedule_once(
        session,
        kind=FANOUT,
        unique_key=f"{FANOUT}.{update_id}.{after}",
        run_at=utcnow(),
        ref_id=update_id,
    )


def fan_out(session: Session, *, update_id: int, batch: int) -> bool:
    """Queue the mails for the next page of signers. False when there was nothing to do.

    The update's row is locked (PostgreSQL; SQLite has one writer), so two fan-out jobs for the
    same update take turns and each page is read once; the delivery rows' unique key makes a
    repeated page harmless anyway."""
    row = session.exec(select(Update).where(Update.id == update_id).with_for_update()).first()
    if row is None or row.state is not UpdateState.SENDING:
        return False
    ids = contact.contactable_ids(
        session, letter_id=row.letter_id, after=row.fanout_after, limit=batch
    )
    now = utcnow()
    if ids:
        # One cached statement, run for many rows (SQLAlchemy's "insertmanyvalues" batches them).
        statement = (
            _insert(session)(_DELIVERIES)
            .on_conflict_do_nothing(index_elements=["update_id", "signature_id"])
            .returning(_DELIVERIES.c.id)
        )
        rows = [{"update_id": update_id, "signature_id": i, "created_at": now} for i in ids]
        inserted = session.execute(statement, rows).scalars().all()
        jobs.enqueue_many(session, kind=MAIL_UPDATE, ref_ids=[int(i) for i in inserted])
        row.fanout_after = ids[-1]
    if len(ids) == batch:
        _schedule_fanout(session, update_id=update_id, after=row.fanout_after)
    else:
        row.state = UpdateState.SENT
        row.finished_at = now
        row.recipients = session.exec(
            select(func.count())
            .select_from(UpdateDelivery)
            .where(UpdateDelivery.update_id == update_id)
        ).one()
    session.add(row)
    session.flush()
    return True


def progress(session: Session, *, update_id: int) -> Progress:
    queued, sent, dropped = session.exec(
        select(
            func.count(),
            func.count(col(UpdateDelivery.sent_at)),
            func.count(col(UpdateDelivery.dropped_at)),
        ).where(UpdateDelivery.update_id == update_id)
    ).one()
    return Progress(queued=queued, sent=sent, dropped=dropped)


def letter_of(session: Session, *, update_id: int) -> int:
    row = session.get(Update, update_id)
    if row is None:
        raise UpdateNotFound(str(update_id))
    return row.letter_id


def preview_html(markdown: str) -> object:
    return render_markdown(markdown)


def text_for(view: UpdateView, language: str) -> tuple[str, str, str]:
    """The subject, text and language a signer who signed in ``language`` receives."""
    for version in view.versions:
        if version.language == language:
            return version.subject, version.body_markdown, version.language
    return view.subject, view.body_markdown, view.language
