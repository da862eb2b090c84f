"""Storing offline signatures fast: the values of one row, and many rows in one transaction
(PostgreSQL: COPY; SQLite: the driver's executemany), on the session's own connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session

from app.signatures.models import Signature, SignatureSource, SignatureState
from app.signatures.offline_csv import OfflineRow
from app.signatures.service import new_public_id

INSERT_BATCH = 5000
TABLE: Table = Signature.__table__  # type: ignore[attr-defined]
# Every column an offline signature sets, in COPY's order.
COLUMNS = (
    "public_id",
    "letter_id",
    "name",
    "affiliation",
    "city",
    "country",
    "language",
    "visibility",
    "may_contact",
    "state",
    "mails_in_window",
    "created_at",
    "confirmed_at",
    "invalidated_reason",
    "source",
    "attestation_id",
    "offline_import_id",
)
# Built from the constant names above only, never from input.
_COPY = f"COPY signatures ({', '.join(COLUMNS)}) FROM STDIN"
_SQLITE_INSERT = (
    f"INSERT INTO signatures ({', '.join(COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join('?' for _ in COLUMNS)})"
)


def row_values(
    row: OfflineRow,
    *,
    letter_id: int,
    language: str,
    now: Any,
    attestation_id: int,
    import_id: int | None,
) -> tuple[Any, ...]:
    return (
        new_public_id(),
        letter_id,
        row.name,
        row.affiliation,
        row.city,
        row.country,
        language,
        row.visibility.value,
        False,
        SignatureState.CONFIRMED.value,
        0,
        now,
        now,
        "",
        SignatureSource.OFFLINE.value,
        attestation_id,
        import_id,
    )


def _copy(session: Session, rows: Iterator[tuple[Any, ...]]) -> int:
    """PostgreSQL's COPY, on the request's own connection and so in its transaction."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    count = 0
    with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
        for values in rows:
            copy.write_row(values)
            count += 1
    return count


def _executemany(session: Session, rows: Iterator[tuple[Any, ...]]) -> int:
    """SQLite: the driver's executemany on the request's connection, in batches of plain
    tuples (SQLAlchemy's per-row processing doubled the time; the only values it would change,
    the two timestamps, are bound once by the caller)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    count = 0
    while batch := list(islice(rows, INSERT_BATCH)):
        driver.executemany(_SQLITE_INSERT, batch)
        count += len(batch)
    return count


def store_rows(session: Session, rows: Iterator[tuple[Any, ...]]) -> int:
    """Insert ``row_values`` tuples in the session's transaction; returns how many."""
    if session.get_bind().dialect.name == "postgresql":
        return _copy(session, rows)
    return _executemany(session, rows)


def bound_now(session: Session, moment: datetime) -> Any:
    """The moment as SQLAlchemy would hand it to this database's driver (on SQLite, text in
    the ORM's own format, as SQLite compares timestamps as text)."""
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        return moment  # COPY: psycopg adapts an aware datetime itself
    process = TABLE.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    return process(moment) if process else moment
