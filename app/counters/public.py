"""The counts the public API (and the webhooks' scan) show, read in ONE place: the derived
counts (app.counters.service), never a scan of the signatures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session

from app.counters import service as counters
from app.db import utcnow

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
    per country (most first) and per day (last PER_DAY_DAYS days, UTC)."""
    if not detailed:
        totals = counters.totals(session, letter_ids=letter_ids)
        return {letter_id: PublicCounts(signatures=total) for letter_id, total in totals.items()}
    first = utcnow().date() - timedelta(days=PER_DAY_DAYS - 1)
    window = [first + timedelta(days=n) for n in range(PER_DAY_DAYS)]
    found = {}
    for letter_id in letter_ids:
        counts = counters.letter_counts(session, letter_id)
        found[letter_id] = PublicCounts(
            signatures=counts.total,
            updated_at=counts.changed_at,
            by_country=sorted(counts.by_country.items(), key=lambda item: (-item[1], item[0])),
            per_day=[(day, counts.by_day.get(day, 0)) for day in window],
        )
    return found
