"""What a mail is once rendered, and the deterministic Message-ID of the job that sends it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class RenderedMail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    # Further headers, e.g. List-Unsubscribe on updates (values we built, never user input).
    headers: tuple[tuple[str, str], ...] = ()


def message_id_for(*, kind: str, job_id: int, created_at: datetime, base_url: str) -> str:
    """The same job always gives the same Message-ID, so a resent copy is recognisable. The
    job's creation time is part of it: SQLite reuses the id of a deleted last row, and a mail
    system that has seen a Message-ID may silently drop a new message that carries it."""
    domain = urlsplit(base_url).hostname or "localhost"
    stamp = int(created_at.timestamp() * 1_000_000)
    return f"<{kind}.{job_id}.{stamp}@{domain}>"
