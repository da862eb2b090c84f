"""Retention: a recurring job deletes what we no longer need to keep."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from app.db import open_session, utcnow
from app.jobs import service as jobs
from app.jobs.errors import JobError
from app.jobs.worker import ClaimedJob, JobContext, Outcome
from app.signatures import service as signatures

PURGE = "privacy.purge"


def purge_expired(context: JobContext, job: ClaimedJob) -> Outcome:
    """Unconfirmed signatures past the retention period, the jobs that mention them, and
    finished jobs of the same age: none of it may outlive its use."""
    before = utcnow() - timedelta(days=context.settings.unconfirmed_retention_days)
    with open_session(context.engine, write=True) as session:
        signatures.purge_unconfirmed(session, created_before=before)
        jobs.delete_finished_before(session, before=before)
        session.commit()
    _checkpoint(context.engine)
    return Outcome.DONE


def scrub_files(context: JobContext, job: ClaimedJob) -> Outcome:
    """After a withdrawal: fold SQLite's write-ahead log into the database (where freed space
    is zeroed: secure_delete) and empty it, so no old page holding a name remains."""
    _checkpoint(context.engine)
    return Outcome.DONE


def _checkpoint(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        # PostgreSQL keeps old row versions until vacuumed and reused, and its WAL until
        # recycled; the README says so. Addresses are never among them: they are encrypted.
        return
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    if busy:
        raise JobError("the write-ahead log is in use; will try again", permanent=False)
