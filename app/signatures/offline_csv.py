"""Reading a CSV file of offline signatures: every row checked by the sign form's own rules,
every problem reported by its line number, and nothing handed on unless the whole file is clean.

The file is UTF-8 (a byte-order mark is allowed), separated by commas (or semicolons or tabs,
as its header line shows), with a header row naming its columns in any order: ``name``
(required), ``affiliation``, ``city``, ``country`` (a two-letter ISO code) and ``visibility``
(``public``, ``letter_only`` or ``counted_only``; empty means counted only).
Lines that are entirely blank are skipped. Checking is one pass that keeps only the problems;
reading the clean file again yields its rows, so a large file never sits in memory as objects.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from app.kit.i18n import N_
from app.kit.text import check_affiliation, check_name, clean_line
from app.signatures.models import Visibility
from app.signatures.schemas import AFFILIATION_MAX, CITY_MAX, country_names

COLUMNS = ("name", "affiliation", "city", "country", "visibility")
REQUIRED = ("name",)
# No honest line is longer: a name, an affiliation and a city at their limits, and quotes.
MAX_LINE_CHARS = 2000
SHOWN_PROBLEMS = 100
VISIBILITIES = tuple(v.value for v in Visibility)
TEMPLATE = (
    "name,affiliation,city,country,visibility\r\n"
    "Anna Example,Teachers' union,Kharkiv,UA,public\r\n"
    "Ivan Example,,Vilnius,LT,letter_only\r\n"
    "Olena Example,,,,counted_only\r\n"
)

UTF16 = N_(
    "This file is UTF-16 text. Please save it as “CSV UTF-8” (in Excel: Save As, then"
    " “CSV UTF-8 (comma delimited)”) and choose it again."
)
NOT_UTF8 = N_(
    "This line is not UTF-8 text. Please save the file as “CSV UTF-8” and choose it again."
)
NO_HEADER = N_("The file is empty. The first line must name the columns, like: %(columns)s.")
NO_ROWS = N_("The file has no signatures, only its header.")
UNKNOWN_COLUMN = N_(
    "The first line must name the columns; “%(column)s” is not one of them (%(columns)s)."
)
DUPLICATE_COLUMN = N_("The column “%(column)s” is named twice.")
MISSING_COLUMN = N_("The first line must name a “%(column)s” column.")
TOO_MANY_ROWS = N_(
    "The file has more than %(limit)s signatures. Please split it into smaller files."
)
COLUMN_COUNT = N_(
    "%(found)s values where the header has %(expected)s. A value with a comma needs quotes"
    " around it."
)
LONG_LINE = N_("This line is longer than %(limit)s characters.")
NUL = N_("This line holds a NUL character: the file may not be text, or not UTF-8.")
BAD_QUOTES = N_("The quotes on this line do not match (%(reason)s).")
BAD_COUNTRY = N_("“%(value)s” is not a country code. Use two letters, like UA or DE.")
BAD_VISIBILITY = N_("“%(value)s” is not a visibility. Use public, letter_only or counted_only.")


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, where: ``line`` 0 is the file as a whole; ``column`` names the value."""

    line: int
    message: str
    column: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CsvReport:
    """The outcome of checking a file: how many signatures, blank lines skipped, problems."""

    rows: int = 0
    blank_lines: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first SHOWN_PROBLEMS
    problem_count: int = 0
    text: str = ""  # the decoded file, to read again once clean

    @property
    def clean(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(problem)


@dataclass(frozen=True, slots=True)
class OfflineRow:
    name: str
    affiliation: str
    city: str
    country: str
    visibility: Visibility


def content_hash(text: str) -> str:
    """The same signatures in the same order give the same hash, whatever the line endings
    (read a line at a time: no copy of the whole file)."""
    digest = hashlib.sha256()
    for line in _split_lines(text):
        if line.endswith("\r\n"):
            line = line[:-2] + "\n"
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


def _looks_utf16(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = data[:4000]
    # UTF-16 without its mark: every other byte of ASCII text is a zero.
    return len(head) >= 4 and head.count(0) * 3 > len(head)


def decode(data: bytes, report: CsvReport) -> str | None:
    """The text, or None with every line that is not UTF-8 reported."""
    if _looks_utf16(data):
        report.add(Problem(line=0, message=UTF16))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            report.add(Problem(line=number, message=NOT_UTF8))
    return None


def _split_lines(text: str) -> Iterator[str]:
    """The lines with their endings, one at a time (a StringIO would copy the whole text, at
    four bytes a character). A file whose lines end in a lone CR (old Macs) is read too."""
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    start, length = 0, len(text)
    while start < length:
        end = text.find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _lines(text: str, report: CsvReport) -> Iterator[str]:
    """The file's lines for the CSV reader; an overlong line is reported and read as blank."""
    for number, line in enumerate(_split_lines(text), start=1):
        if len(line) > MAX_LINE_CHARS:
            report.add(
                Problem(line=number, message=LONG_LINE, params={"limit": str(MAX_LINE_CHARS)})
            )
            yield "\n"
        else:
            yield line


def delimiter(text: str) -> str:
    """A comma; or what the header line uses instead (spreadsheets set to a European locale
    save CSV with semicolons, and some tools with tabs)."""
    header = next((line for line in text[:MAX_LINE_CHARS].splitlines() if line.strip()), "")
    if "," not in header:
        for other in (";", "\t"):
            if other in header:
                return other
    return ","


def _records(text: str, report: CsvReport) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) for each record that is not blank; quoting errors reported."""
    reader = csv.reader(_lines(text, report), strict=True, delimiter=delimiter(text))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.add(Problem(line=start, message=BAD_QUOTES, params={"reason": str(error)}))
            continue
        if not "".join(cells).strip():
            report.blank_lines += 1
            continue
        yield start, cells


def _header(line: int, cells: list[str], report: CsvReport) -> list[str] | None:
    names = [clean_line(cell).casefold() for cell in cells]
    listed = ", ".join(COLUMNS)
    problems = 0
    for index, name in enumerate(names):
        if name not in COLUMNS:
            params = {"column": cells[index][:60], "columns": listed}
            report.add(Problem(line=line, message=UNKNOWN_COLUMN, params=params))
            problems += 1
        elif name in names[:index]:
            report.add(Problem(line=line, message=DUPLICATE_COLUMN, params={"column": name}))
            problems += 1
    for required in REQUIRED:
        if required not in names:
            report.add(Problem(line=line, message=MISSING_COLUMN, params={"column": required}))
            problems += 1
    return None if problems else names


@lru_cache(maxsize=4096)
def _place_problem(value: str, limit: int) -> str | None:
    """Affiliations and cities repeat down a long file: each distinct one is checked once."""
    return check_affiliation(value, limit)


@lru_cache(maxsize=4096)
def _clean_repeated(value: str) -> str:
    """Affiliations, cities, countries and visibilities repeat down a long file."""
    return clean_line(value)


def _country(value: str) -> str:
    return _clean_repeated(value).upper()


def _row_problems(values: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(column, message, params) for each bad value of one row."""
    found: list[tuple[str, str, dict[str, str]]] = []
    if "\x00" in "".join(values.values()):
        return [("", NUL, {})]
    if error := check_name(values.get("name", "")):
        found.append(("name", error, {}))
    for column, limit in (("affiliation", AFFILIATION_MAX), ("city", CITY_MAX)):
        if error := _place_problem(values.get(column, ""), limit):
            found.append((column, error, {}))
    country = _country(values.get("country", ""))
    if country and country not in country_names():
        found.append(("country", BAD_COUNTRY, {"value": values["country"].strip()[:40]}))
    visibility = values.get("visibility", "").strip().casefold()
    if visibility and visibility not in VISIBILITIES:
        found.append(("visibility", BAD_VISIBILITY, {"value": values["visibility"].strip()[:40]}))
    return found


def check_csv(data: bytes, *, max_rows: int) -> CsvReport:
    """Check every row of the file; the report says what is wrong, line by line."""
    report = CsvReport()
    text = decode(data, report)
    if text is None:
        return report
    records = _records(text, report)
    first = next(records, None)
    if first is None:
        report.add(Problem(line=0, message=NO_HEADER, params={"columns": ", ".join(COLUMNS)}))
        return report
    names = _header(*first, report)
    if names is None:
        return report
    for line, cells in records:
        report.rows += 1
        if report.rows > max_rows:
            report.add(Problem(line=line, message=TOO_MANY_ROWS, params={"limit": f"{max_rows:,}"}))
            return report
        if len(cells) != len(names):
            params = {"found": str(len(cells)), "expected": str(len(names))}
            report.add(Problem(line=line, message=COLUMN_COUNT, params=params))
            continue
        for column, message, params in _row_problems(dict(zip(names, cells, strict=True))):
            report.add(Problem(line=line, message=message, column=column, params=params))
    if report.rows == 0 and report.clean:
        report.add(Problem(line=0, message=NO_ROWS))
    if report.clean:
        report.text = text
    return report


def clean_rows(text: str) -> Iterator[OfflineRow]:
    """The rows of a file ``check_csv`` found clean, as they will be stored."""
    ignored = CsvReport()
    records = _records(text, ignored)
    first = next(records, None)
    assert first is not None
    names = [clean_line(cell).casefold() for cell in first[1]]
    at = {column: names.index(column) if column in names else None for column in COLUMNS}
    name_at = names.index("name")
    default = Visibility.COUNTED_ONLY

    def cell(cells: list[str], column: str) -> str:
        index = at[column]
        return "" if index is None else _clean_repeated(cells[index])

    for _line, cells in records:
        visibility = cell(cells, "visibility").casefold()
        yield OfflineRow(
            name=clean_line(cells[name_at]),
            affiliation=cell(cells, "affiliation"),
            city=cell(cells, "city"),
            country=cell(cells, "country").upper(),  # as _country() gives it
            visibility=Visibility(visibility) if visibility else default,
        )
