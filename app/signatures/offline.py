"""Offline signatures: gathered on paper or by a trusted collector, entered by an organiser one
by one or imported from a CSV file, each under an attestation (who collected it, how, when).

They are confirmed from the start, count like any other, carry the same visibility choices,
and have no address: nobody can be mailed, and nothing can find them by one. An import is one
transaction of bulk inserts (PostgreSQL: COPY), and can be undone: its signatures are deleted,
and the import's record (file name, hash, count, who, when) stays for the audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, insert, text, update
from sqlmodel import Session, col, select

from app.db import utcnow
from app.privacy import service as privacy
from app.signatures.models import (
    Attestation,
    OfflineImport,
    Signature,
    SignatureSource,
    SignatureState,
)
from app.signatures.offline_csv import OfflineRow
from app.signatures.offline_rows import COLUMNS, TABLE, bound_now, row_values, store_rows


class AttestationNotFound(Exception):
    """No attestation (or import) with this id on this letter: shown as 'not found'."""


@dataclass(frozen=True, slots=True)
class AttestationInput:
    collector: str
    method: str
    collected_from: date
    collected_until: date | None
    note: str = ""


def _when(start: date, until: date | None) -> str:
    return f"{start.isoformat()} to {until.isoformat()}" if until and until != start else str(start)


def _label(collector: str, method: str, when: str) -> str:
    """One line naming an attestation, for lists and the export."""
    return f"{collector}, {method}, {when}"


@dataclass(frozen=True, slots=True)
class AttestationLine:
    id: int
    collector: str
    method: str
    collected_from: date
    collected_until: date | None
    note: str
    created_at: datetime
    signatures: int  # that count now (confirmed)

    @property
    def when(self) -> str:
        return _when(self.collected_from, self.collected_until)

    @property
    def label(self) -> str:
        return _label(self.collector, self.method, self.when)


@dataclass(frozen=True, slots=True)
class ImportLine:
    id: int
    attestation_id: int
    file_name: str
    file_sha256: str
    rows: int
    created_at: datetime
    undone_at: datetime | None
    undone_count: int
    remaining: int  # its signatures still stored (hidden and invalidated ones included)


def create_attestation(
    session: Session, *, letter_id: int, data: AttestationInput, organiser_id: int | None
) -> int:
    attestation = Attestation(
        letter_id=letter_id,
        collector=data.collector,
        method=data.method,
        collected_from=data.collected_from,
        collected_until=data.collected_until,
        note=data.note,
        organiser_id=organiser_id,
    )
    session.add(attestation)
    session.flush()
    assert attestation.id is not None
    return attestation.id


def require_attestation(session: Session, *, letter_id: int, attestation_id: int) -> None:
    found = session.exec(
        select(Attestation.id)
        .where(Attestation.id == attestation_id)
        .where(Attestation.letter_id == letter_id)
    ).first()
    if found is None:
        raise AttestationNotFound(str(attestation_id))


def attestation_ids(session: Session, *, letter_id: int) -> set[int]:
    """The letter's attestations' ids (to check a choice), without counting their signatures."""
    found = session.exec(select(Attestation.id).where(Attestation.letter_id == letter_id)).all()
    return {attestation_id for attestation_id in found if attestation_id is not None}


def list_attestations(
    session: Session, *, letter_id: int, ids: Sequence[int] | None = None
) -> list[AttestationLine]:
    """The letter's attestations, newest first, each with its confirmed signatures."""
    counted = (
        select(col(Signature.attestation_id), func.count().label("n"))
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.state) == SignatureState.CONFIRMED)
        .where(col(Signature.source) == SignatureSource.OFFLINE)
        .group_by(col(Signature.attestation_id))
        .subquery()
    )
    query = (
        select(Attestation, func.coalesce(counted.c.n, 0))
        .join(counted, counted.c.attestation_id == col(Attestation.id), isouter=True)
        .where(Attestation.letter_id == letter_id)
        .order_by(col(Attestation.id).desc())
    )
    if ids is not None:
        query = query.where(col(Attestation.id).in_(list(ids)))
    return [
        AttestationLine(
            id=row.id,
            collector=row.collector,
            method=row.method,
            collected_from=row.collected_from,
            collected_until=row.collected_until,
            note=row.note,
            created_at=row.created_at,
            signatures=int(count),
        )
        for row, count in session.exec(query).all()
        if row.id is not None
    ]


def attestation_labels(session: Session, *, letter_id: int, ids: Iterable[int]) -> dict[int, str]:
    """Labels of the given attestations (for a page of signatures, or an export batch)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(Attestation)
        .where(Attestation.letter_id == letter_id)
        .where(col(Attestation.id).in_(wanted))
    ).all()
    return {
        row.id: _label(row.collector, row.method, _when(row.collected_from, row.collected_until))
        for row in rows
        if row.id is not None
    }


def add_signature(
    session: Session, *, letter_id: int, attestation_id: int, row: OfflineRow, language: str
) -> int:
    """One offline signature, confirmed at once; returns its id."""
    require_attestation(session, letter_id=letter_id, attestation_id=attestation_id)
    values = row_values(
        row,
        letter_id=letter_id,
        language=language,
        now=utcnow(),
        attestation_id=attestation_id,
        import_id=None,
    )
    inserted = session.execute(
        insert(TABLE).values(dict(zip(COLUMNS, values, strict=True))).returning(TABLE.c.id)
    ).scalar_one()
    return int(inserted)


def import_rows(
    session: Session,
    *,
    letter_id: int,
    attestation_id: int,
    rows: Iterable[OfflineRow],
    language: str,
    file_name: str,
    file_sha256: str,
    organiser_id: int | None,
) -> tuple[int, int]:
    """Store a clean file's rows under the attestation, in the caller's transaction; returns
    the import's id and how many signatures it stored."""
    require_attestation(session, letter_id=letter_id, attestation_id=attestation_id)
    record = OfflineImport(
        letter_id=letter_id,
        attestation_id=attestation_id,
        organiser_id=organiser_id,
        file_name=file_name[:200],
        file_sha256=file_sha256,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    now = bound_now(session, utcnow())
    values = (
        row_values(
            row,
            letter_id=letter_id,
            language=language,
            now=now,
            attestation_id=attestation_id,
            import_id=record.id,
        )
        for row in rows
    )
    record.rows = store_rows(session, values)
    session.flush()
    return record.id, record.rows


# The first key of PostgreSQL's two-key advisory locks taken by imports (the second: the letter).
IMPORT_LOCK_NAMESPACE = 7_301


def serialise_imports(session: Session, *, letter_id: int) -> None:
    """Imports into one letter one at a time, until the transaction ends, so two uploads of the
    same file cannot both pass the "imported before?" check. (SQLite has one writer anyway.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :letter)"),
            {"namespace": IMPORT_LOCK_NAMESPACE, "letter": letter_id},
        )


def earlier_imports(session: Session, *, letter_id: int, file_sha256: str) -> list[ImportLine]:
    """Imports of the same content into this letter that were not undone."""
    return [
        line
        for line in list_imports(session, letter_id=letter_id, file_sha256=file_sha256)
        if line.undone_at is None
    ]


def list_imports(
    session: Session,
    *,
    letter_id: int,
    file_sha256: str | None = None,
    import_id: int | None = None,
) -> list[ImportLine]:
    query = select(OfflineImport).where(OfflineImport.letter_id == letter_id)
    if file_sha256 is not None:
        query = query.where(OfflineImport.file_sha256 == file_sha256)
    if import_id is not None:
        query = query.where(OfflineImport.id == import_id)
    imports = session.exec(query.order_by(col(OfflineImport.id).desc()).limit(200)).all()
    ids = [item.id for item in imports if item.id is not None]
    remaining = dict(
        session.exec(
            select(col(Signature.offline_import_id), func.count())
            .where(col(Signature.letter_id) == letter_id)
            .where(col(Signature.offline_import_id).in_(ids))
            .group_by(col(Signature.offline_import_id))
        ).all()
    ) if ids else {}  # fmt: skip
    return [
        ImportLine(
            id=item.id,
            attestation_id=item.attestation_id,
            file_name=item.file_name,
            file_sha256=item.file_sha256,
            rows=item.rows,
            created_at=item.created_at,
            undone_at=item.undone_at,
            undone_count=item.undone_count,
            remaining=int(remaining.get(item.id, 0)),
        )
        for item in imports
        if item.id is not None
    ]


def get_import(session: Session, *, letter_id: int, import_id: int) -> ImportLine:
    found = list_imports(session, letter_id=letter_id, import_id=import_id)
    if not found:
        raise AttestationNotFound(f"import {import_id}")
    return found[0]


def undo_import(session: Session, *, letter_id: int, import_id: int) -> int | None:
    """Delete every signature the import stored (hidden and invalidated ones too); None if it
    was undone already. The names are erased from the database's files as after a withdrawal."""
    get_import(session, letter_id=letter_id, import_id=import_id)
    spent = session.execute(
        update(OfflineImport)
        .where(col(OfflineImport.id) == import_id)
        .where(col(OfflineImport.letter_id) == letter_id)
        .where(col(OfflineImport.undone_at).is_(None))
        .values(undone_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    deleted = session.execute(
        delete(Signature)
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.offline_import_id) == import_id)
        .where(col(Signature.source) == SignatureSource.OFFLINE)
        .execution_options(synchronize_session=False)
    )
    count = int(deleted.rowcount)  # type: ignore[attr-defined]
    session.execute(
        update(OfflineImport).where(col(OfflineImport.id) == import_id).values(undone_count=count)
    )
    privacy.scrub_after_commit(session)
    return count


def count_offline(session: Session, *, letter_id: int) -> int:
    """Confirmed offline signatures (on the (letter, source, state) index)."""
    return session.exec(
        select(func.count())
        .select_from(Signature)
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.source) == SignatureSource.OFFLINE)
        .where(col(Signature.state) == SignatureState.CONFIRMED)
    ).one()
