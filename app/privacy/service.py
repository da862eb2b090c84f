"""Asking for erased data to be scrubbed from the database's files, after the erasing commits."""

from __future__ import annotations

from sqlmodel import Session

from app.jobs import service as jobs

SCRUB = "privacy.scrub"


def scrub_after_commit(session: Session) -> None:
    """Queue a scrub: SQLite keeps the old version of a changed page in its write-ahead log
    until a checkpoint, so a copy of the files would still show what a signer withdrew."""
    jobs.enqueue(session, kind=SCRUB)
