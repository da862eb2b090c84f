"""Reading a letter's list in order, by keyset, and cutting it into chunks.

The list order is (confirmed_at, id) over every signature that was ever confirmed, withdrawn
and invalidated ones included: such a signature keeps its place but shows no name. A chunk is
a fixed number of consecutive places, so its boundaries never move: a withdrawal changes only
the chunk that held the name, and new signatures only add places at the end. Each chunk is
named by a hash of exactly what it shows, so the cache finds unchanged chunks again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Integer, Table, and_, literal, tuple_, type_coerce
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType
from sqlmodel import Session

from app.exports.pdf.render import LIST_TEMPLATE_VERSION, ListEntry
from app.signatures.models import Signature, SignatureState, Visibility

READ_BATCH = 5000
NAMED = (Visibility.PUBLIC, Visibility.LETTER_ONLY)

Key = tuple[datetime, int]
Row = Sequence[Any]  # a result row: (raw time, id, counted, named, name, ...)


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


_TIME_TYPE = _TABLE.c.confirmed_at.type


def read_batches(
    session: Session,
    *,
    letter_id: int,
    after: Key | None = None,
    until: Key | None = None,
    batch: int = READ_BATCH,
) -> Iterator[list[Row]]:
    """The list order from just after ``after`` up to ``until`` (inclusive), a batch at a time
    from the (letter_id, confirmed_at, id) index: memory stays flat however long the list.

    Rows are the driver's own tuples (raw time, id, counted, named, name, affiliation, city,
    country), the time as the driver gives it, read through the session's connection without
    SQLAlchemy's rows: at a million signatures building row objects and converting times
    would cost more than the rest of the pass. ``key`` converts the few that are needed.
    Every parameter is bound as stored (integers, the stored enum strings, raw times)."""
    table = _TABLE
    raw_time = type_coerce(table.c.confirmed_at, NullType())
    order = tuple_(raw_time, table.c.id)
    columns = (
        raw_time.label("raw_time"),
        table.c.id,
        _CONFIRMED.label("counted"),
        shows_name().label("named"),
        table.c.name,
        table.c.affiliation,
        table.c.city,
        table.c.country,
    )
    connection = session.connection()
    dialect = connection.dialect
    start = None if after is None else _raw_key(dialect, after)
    end = None if until is None else _raw_key(dialect, until)
    cursor = connection.connection.cursor()
    try:
        while True:
            query = (
                core_select(*columns)
                .where(table.c.letter_id == letter_id)
                .where(table.c.confirmed_at.is_not(None))
                .order_by(table.c.confirmed_at, table.c.id)
                .limit(batch)
            )
            if start is not None:
                query = query.where(order > tuple_(*_raw_binds(start)))
            if end is not None:
                query = query.where(order <= tuple_(*_raw_binds(end)))
            compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
            params = compiled.construct_params()
            if compiled.positiontup is not None:
                cursor.execute(str(compiled), [params[name] for name in compiled.positiontup])
            else:
                cursor.execute(str(compiled), params)
            rows: list[Row] = list(cursor.fetchall())
            if rows:
                yield rows
            if len(rows) < batch:
                return
            start = (rows[-1][0], rows[-1][1])
    finally:
        cursor.close()


def _raw_binds(raw: tuple[Any, int]) -> tuple[Any, Any]:
    return (literal(raw[0], NullType()), literal(raw[1], Integer()))


def _raw_key(dialect: Dialect, place: Key) -> tuple[Any, int]:
    """A place with its time as the driver stores it (the inverse of ``key``)."""
    convert = _TIME_TYPE.dialect_impl(dialect).bind_processor(dialect)
    return (convert(place[0]) if convert is not None else place[0], place[1])


def key(dialect: Dialect, row: Row) -> Key:
    """A row's place in the list order, its time converted as the column converts it."""
    convert = _TIME_TYPE.dialect_impl(dialect).result_processor(dialect, None)
    when = convert(row[0]) if convert is not None else row[0]
    assert isinstance(when, datetime)
    return (when, row[1])


def content_hash(entries: list[ListEntry], *, language: str, heading: bool) -> str:
    return _hash_keys([entry.key() for entry in entries], language=language, heading=heading)


def _hash_keys(keys: list[str], *, language: str, heading: bool) -> str:
    """What ``content_hash`` gives for the entries with these ``ListEntry.key()``s."""
    digest = hashlib.sha256(f"{LIST_TEMPLATE_VERSION}\x1e{language}\x1e{heading}".encode())
    if keys:
        digest.update(("\x1e" + "\x1e".join(keys)).encode("utf-8", "surrogatepass"))
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
    without a name are left out (they would print nothing). The loop is kept bare (tuples,
    no objects, times converted only at chunk edges): at a million signatures it is what a
    re-export with every chunk kept mostly waits for."""
    plan = ListPlan()
    dialect = session.connection().dialect
    countries = plan.countries
    keys: list[str] = []  # the chunk's named entries, as ListEntry.key() gives them
    first: Row | None = None
    last: Row | None = None
    first_counted: Row | None = None
    last_counted: Row | None = None
    places = counted_places = named_places = 0

    def close_chunk() -> None:
        if keys:
            assert first is not None and last is not None
            plan.chunks.append(
                ChunkPlan(
                    position=len(plan.chunks),
                    first=key(dialect, first),
                    last=key(dialect, last),
                    content_hash=_hash_keys(keys, language=language, heading=not plan.chunks),
                    names=len(keys),
                )
            )
        keys.clear()

    for rows in read_batches(session, letter_id=letter_id):
        for row in rows:
            if places == 0:
                first = row
            places += 1
            if row[2]:
                counted_places += 1
                if row[7]:
                    countries.add(row[7])
                if first_counted is None:
                    first_counted = row
                last_counted = row
            if row[3]:
                named_places += 1
                keys.append(f"{row[4]}\x1f{row[5]}\x1f{row[6]}\x1f{row[7]}")
            if places == chunk_size:
                last = row
                close_chunk()
                places = 0
    if places:
        last = rows[-1]
        close_chunk()
    plan.signature_count = counted_places
    plan.named_count = named_places
    if first_counted is not None and last_counted is not None:
        plan.first_signed_at = key(dialect, first_counted)[0]
        plan.last_signed_at = key(dialect, last_counted)[0]
    return plan


def chunk_entries(session: Session, *, letter_id: int, first: Key, last: Key) -> list[ListEntry]:
    """The names a chunk shows now, read back by its range."""
    before_first = _just_before(first)
    return [
        ListEntry(row[4], row[5], row[6], row[7])
        for rows in read_batches(session, letter_id=letter_id, after=before_first, until=last)
        for row in rows
        if row[3]
    ]


def _just_before(key: Key) -> Key:
    # Ids are positive, so (confirmed_at, id - 1) < key <= anything in range that follows.
    return (key[0], key[1] - 1)
