"""What a mail is once rendered, and the deterministic Message-ID of the job that sends it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class RenderedMail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str


def message_id_for(*, kind: str, job_id: int, base_url: str) -> str:
    """The same job always gives the same Message-ID, so a resent copy is recognisable."""
    domain = urlsplit(base_url).hostname or "localhost"
    return f"<{kind}.{job_id}@{domain}>"
