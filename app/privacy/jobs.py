"""Retention: a recurring job deletes what we no longer need to keep."""

from __future__ import annotations

from datetime import timedelta

from app.db import open_session, utcnow
from app.jobs import service as jobs
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
    return Outcome.DONE
