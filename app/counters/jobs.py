"""The recurring job that keeps the counts: fold the new deltas, every 0.3 freshness intervals.

The public count may lag the signatures by one freshness interval (``COUNT_FRESHNESS_SECONDS``)
end to end: 0.3 of it for this job (the worker wakes at the start of each period, see
``JobWorker.run``), 0.2 for the web processes' cache (app/counters/cache.py), and the rest
(half) as margin for a machine so busy serving that the worker waits for a core."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlmodel import col

from app.config import Settings
from app.counters.service import fold_pending
from app.db import open_session, utcnow
from app.jobs.models import Job, JobState
from app.jobs.worker import ClaimedJob, JobContext, Outcome

log = logging.getLogger(__name__)

FOLD = "counters.fold"
# Finished fold jobs are forgotten after this (one row every few seconds would otherwise pile
# up until the retention purge).
KEEP_FINISHED = timedelta(minutes=10)
FOLD_SHARE = 0.3


def fold_every(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.count_freshness_seconds * FOLD_SHARE)


def fold_while_running(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    """A running worker also folds on a thread of its own, at the start of every period: a
    long job ahead in its queue (a purge of many unconfirmed signatures, say) must not hold
    the public counts back. Folds running at once are safe (see ``fold_pending``); the
    recurring job stays for workers driven pass by pass."""
    period = fold_every(settings).total_seconds()
    while not stop.wait(period - time.time() % period):
        try:
            fold_pending(engine)
        except Exception:
            log.exception("counters: folding failed; will try again")


def fold_counts(context: JobContext, job: ClaimedJob) -> Outcome:
    fold_pending(context.engine)
    with open_session(context.engine, write=True) as session:
        session.execute(
            delete(Job)
            .where(col(Job.kind) == FOLD)
            .where(col(Job.state) == JobState.DONE)
            .where(col(Job.finished_at) < utcnow() - KEEP_FINISHED)
        )
        session.commit()
    return Outcome.DONE
