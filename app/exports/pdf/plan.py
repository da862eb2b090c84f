"""Reading a letter's list in order, by keyset, and cutting it into chunks.

The list order is (confirmed_at, id) over every signature that was ever confirmed, withdrawn
and invalidated ones included: such a signature keeps its place but shows no name. A chunk is
a fixed number of consecutive places, so its boundaries never move: a withdrawal changes only
the chunk that held the name, and new signatures only add places at the end. Each chunk is
named by a hash of exactly what it shows, so the cache finds unchanged chunks again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, and_, tuple_
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app.exports.pdf.render import LIST_TEMPLATE_VERSION, ListEntry
from app.signatures.models import Signature, SignatureState, Visibility

READ_BATCH = 5000
NAMED = (Visibility.PUBLIC, Visibility.LETTER_ONLY)

Key = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class Place:
    """One place of the list order; ``entry`` is None when it shows no name."""

    key: Key
    counted: bool  # confirmed now: counts in the total
    country: str
    entry: ListEntry | None


_TABLE: Table = Signature.__table__  # type: ignore[attr-defined]
_CONFIRMED = _TABLE.c.state == SignatureState.CONFIRMED.value


def shows_name() -> ColumnElement[bool]:
    """Named in the delivered letter: confirmed, chose "everyone" or "only the recipients",
    and not hidden by an organiser. A hidden name was judged unfit for any list (an insult, a
    famous name typed by someone else); it still counts, among those not named. Worked out
    by the database: a million rows need no enum or date conversions for it."""
    return and_(
        _CONFIRMED,
        _TABLE.c.visibility.in_([visibility.value for visibility in NAMED]),
        _TABLE.c.hidden_at.is_(None),
    )


def read_places(
    session: Session,
    *,
    letter_id: int,
    after: Key | None = None,
    until: Key | None = None,
    batch: int = READ_BATCH,
) -> Iterator[Place]:
    """The list order from just after ``after`` up to ``until`` (inclusive), a batch at a time
    from the (letter_id, confirmed_at, id) index: memory stays flat however long the list."""
    table = _TABLE
    order = tuple_(table.c.confirmed_at, table.c.id)
    columns = (
        table.c.confirmed_at,
        table.c.id,
        _CONFIRMED.label("counted"),
        shows_name().label("named"),
        table.c.name,
        table.c.affiliation,
        table.c.city,
        table.c.country,
    )
    connection = session.connection()
    while True:
        query = (
            core_select(*columns)
            .where(table.c.letter_id == letter_id)
            .where(table.c.confirmed_at.is_not(None))
            .order_by(table.c.confirmed_at, table.c.id)
            .limit(batch)
        )
        if after is not None:
            query = query.where(order > tuple_(*after))
        if until is not None:
            query = query.where(order <= tuple_(*until))
        rows = connection.execute(query).all()
        for confirmed_at, row_id, counted, named, name, affiliation, city, country in rows:
            yield Place(
                key=(confirmed_at, row_id),
                counted=bool(counted),
                country=country,
                entry=ListEntry(name, affiliation, city, country) if named else None,
            )
        if len(rows) < batch:
            return
        after = (rows[-1][0], rows[-1][1])


def content_hash(entries: list[ListEntry], *, language: str, heading: bool) -> str:
    digest = hashlib.sha256(f"{LIST_TEMPLATE_VERSION}\x1e{language}\x1e{heading}".encode())
    for entry in entries:
        digest.update(b"\x1e" + entry.key().encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass
class ChunkPlan:
    position: int
    first: Key
    last: Key
    content_hash: str
    names: int


@dataclass
class ListPlan:
    chunks: list[ChunkPlan] = field(default_factory=list)
    signature_count: int = 0
    named_count: int = 0
    countries: set[str] = field(default_factory=set)
    first_signed_at: datetime | None = None
    last_signed_at: datetime | None = None


def plan_list(session: Session, *, letter_id: int, chunk_size: int, language: str) -> ListPlan:
    """One pass over the list: the summary's figures and each chunk's range and hash. Chunks
    without a name are left out (they would print nothing)."""
    plan = ListPlan()
    places: list[Place] = []

    def close_chunk() -> None:
        entries = [place.entry for place in places if place.entry is not None]
        if entries:
            heading = not plan.chunks
            plan.chunks.append(
                ChunkPlan(
                    position=len(plan.chunks),
                    first=places[0].key,
                    last=places[-1].key,
                    content_hash=content_hash(entries, language=language, heading=heading),
                    names=len(entries),
                )
            )
        places.clear()

    for place in read_places(session, letter_id=letter_id):
        if place.counted:
            plan.signature_count += 1
            if place.country:
                plan.countries.add(place.country)
            if plan.first_signed_at is None:
                plan.first_signed_at = place.key[0]
            plan.last_signed_at = place.key[0]
        if place.entry is not None:
            plan.named_count += 1
        places.append(place)
        if len(places) >= chunk_size:
            close_chunk()
    close_chunk()
    return plan


def chunk_entries(session: Session, *, letter_id: int, first: Key, last: Key) -> list[ListEntry]:
    """The names a chunk shows now, read back by its range."""
    before_first = _just_before(first)
    places = read_places(session, letter_id=letter_id, after=before_first, until=last)
    return [place.entry for place in places if place.entry is not None]


def _just_before(key: Key) -> Key:
    # Ids are positive, so (confirmed_at, id - 1) < key <= anything in range that follows.
    return (key[0], key[1] - 1)
