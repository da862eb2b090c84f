"""The jobs table. A row names what to do (kind + id), never an address or a token."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, string_enum, utcnow


class JobState(StrEnum):
    PENDING = "pending"  # waiting for run_at, or held by a worker's lease
    DONE = "done"
    FAILED = "failed"  # a permanent failure, or attempts exhausted
    DROPPED = "dropped"  # nothing left to do (e.g. the signature was withdrawn)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_at", "state", "run_at"),
        Index("ix_jobs_kind_ref", "kind", "ref_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    ref_id: int | None = None
    state: JobState = Field(
        default=JobState.PENDING, sa_column=Column(string_enum(JobState), nullable=False)
    )
    attempts: int = 0
    max_attempts: int = 12
    run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The claim: a worker holds the job until locked_until; only the holder of lease_token
    # may finish or fail it (a fence against a worker that outlived its lease).
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, max_length=32)
    # For scheduled jobs that must exist once (a recurring purge per hour): unique when set.
    unique_key: str | None = Field(default=None, max_length=120, unique=True)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
