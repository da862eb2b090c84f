"""Enqueueing jobs inside the caller's transaction: they run only if it commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.db import utcnow
from app.jobs.models import Job, JobState

_TABLE: Table = Job.__table__  # type: ignore[attr-defined]


def enqueue(
    session: Session,
    *,
    kind: str,
    ref_id: int | None = None,
    run_at: datetime | None = None,
    state: JobState = JobState.PENDING,
    note: str = "",
) -> None:
    """Queue a job. ``state=DROPPED`` records a job decided against at once (with ``note``)."""
    now = utcnow()
    session.add(
        Job(
            kind=kind,
            ref_id=ref_id,
            run_at=run_at or now,
            state=state,
            last_error=note,
            created_at=now,
            finished_at=None if state is JobState.PENDING else now,
        )
    )


def enqueue_many(session: Session, *, kind: str, ref_ids: Iterable[int]) -> int:
    """Queue one job per id in one statement (a fan-out queues hundreds at a time)."""
    now = utcnow()
    rows = [
        {
            "kind": kind,
            "ref_id": ref_id,
            "state": JobState.PENDING.value,
            "attempts": 0,
            "max_attempts": Job.model_fields["max_attempts"].default,
            "run_at": now,
            "last_error": "",
            "created_at": now,
        }
        for ref_id in ref_ids
    ]
    if rows:
        session.execute(_TABLE.insert(), rows)
    return len(rows)


def schedule_once(
    session: Session, *, kind: str, unique_key: str, run_at: datetime, ref_id: int | None = None
) -> bool:
    """Queue a job unless one with ``unique_key`` exists (several workers may all try)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(_TABLE)
        .values(
            kind=kind,
            ref_id=ref_id,
            state=JobState.PENDING.value,
            attempts=0,
            max_attempts=Job.model_fields["max_attempts"].default,
            run_at=run_at,
            unique_key=unique_key,
            last_error="",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["unique_key"])
        .returning(_TABLE.c.id)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def delete_jobs_for(session: Session, *, kinds: Iterable[str], ref_ids: Iterable[int]) -> int:
    """Forget the jobs that mention these rows (e.g. mails about a deleted signature)."""
    ids = list(ref_ids)
    if not ids:
        return 0
    result = session.execute(
        delete(Job).where(col(Job.kind).in_(list(kinds))).where(col(Job.ref_id).in_(ids))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_finished_before(session: Session, *, before: datetime) -> int:
    result = session.execute(
        delete(Job).where(col(Job.state) != JobState.PENDING).where(col(Job.finished_at) < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
