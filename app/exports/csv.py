"""The signatures of a letter as CSV, streamed: UTF-8 with a byte-order mark (so spreadsheet
programs read the accents right), and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from app.signatures.reports import ExportRow

BOM = "\ufeff"
COLUMNS = (
    "number",
    "name",
    "affiliation",
    "city",
    "country",
    "state",
    "visibility",
    "confirmed_at",
    "email",
    "source",  # online, or offline (gathered on paper or by a trusted collector)
    "attestation",  # an offline signature's: who collected it, how, when
)
# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# ("=HYPERLINK(...)", "+cmd|...", "-2+3", "@SUM(...)"), or hides one after a tab or a return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: str) -> str:
    """A leading apostrophe makes spreadsheets show the cell as text, never evaluate it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cells(number: int, row: ExportRow) -> list[str]:
    cells = [
        row.name,
        row.affiliation,
        row.city,
        row.country,
        row.state.value,
        row.visibility.value,
        row.confirmed_at.isoformat(timespec="seconds") if row.confirmed_at else "",
        row.email,
        row.source.value,
        row.attestation,
    ]
    return [str(number), *(formula_safe(cell) for cell in cells)]


def csv_chunks(batches: Iterable[list[ExportRow]]) -> Iterator[bytes]:
    """The header, then one chunk of bytes per batch of rows: only one batch in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180

    def drain() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    buffer.write(BOM)
    writer.writerow(COLUMNS)
    yield drain()
    number = 0
    for batch in batches:
        for row in batch:
            number += 1
            writer.writerow(_cells(number, row))
        yield drain()
