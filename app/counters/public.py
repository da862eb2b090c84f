"""The counts the public API shows, read in ONE place.

Today they come from the signatures themselves (app.signatures.service, .reports). When counts
become derived data (a counts table kept by a batched job), this function is the only thing
the public API needs changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from app.signatures import reports
from app.signatures import service as signatures

PER_DAY_DAYS = 60


@dataclass(frozen=True, slots=True)
class PublicCounts:
    signatures: int
    # Filled in only when asked for ``detailed``:
    updated_at: datetime | None = None
    by_country: list[tuple[str, int]] = field(default_factory=list)  # "" is "not given"
    per_day: list[tuple[date, int]] = field(default_factory=list)  # oldest first, zeros kept


def public_counts(
    session: Session, *, letter_ids: Sequence[int], detailed: bool = False
) -> dict[int, PublicCounts]:
    """Confirmed signatures per letter; ``detailed`` adds when the count last moved, the count
    per country and per day (last PER_DAY_DAYS days, UTC)."""
    totals = signatures.counts_confirmed(session, letter_ids=letter_ids)
    if not detailed:
        return {letter_id: PublicCounts(signatures=total) for letter_id, total in totals.items()}
    found = {}
    for letter_id in letter_ids:
        report = reports.dashboard(session, letter_id=letter_id, days=PER_DAY_DAYS, latest=0)
        found[letter_id] = PublicCounts(
            signatures=totals[letter_id],
            updated_at=signatures.count_changed_at(session, letter_id=letter_id),
            by_country=report.by_country,
            per_day=report.per_day,
        )
    return found
