"""The CSV checker on its own: line numbers as an editor shows them, the header's problems,
blank lines, quotes, the report's cap, and clean rows read back as they will be stored."""

from __future__ import annotations

from app.signatures.models import Visibility
from app.signatures.offline_csv import (
    SHOWN_PROBLEMS,
    TEMPLATE,
    CsvReport,
    OfflineRow,
    check_csv,
    clean_rows,
    content_hash,
)

HEADER = "name,affiliation,city,country,visibility\n"


def check(text: str, max_rows: int = 1000) -> CsvReport:
    return check_csv(text.encode("utf-8"), max_rows=max_rows)


def lines(report: CsvReport) -> list[int]:
    return [problem.line for problem in report.problems]


def test_line_numbers_follow_the_file_through_quoted_line_breaks_and_blanks() -> None:
    report = check(
        HEADER
        + '"Anna\nSplit",,,,\n'  # lines 2-3: a line break inside a name is refused
        + "\n\n"  # 4, 5: blank, skipped
        + ",,,,\n"  # 6: blank cells, skipped
        + "Bob Example,,,ZZ,\n"  # 7
        + '"Carol ""Quoted"" Example",,,,\n'  # 8: fine
        + '"Dan" Example,,,,\n'  # 9: text after a closing quote
        + "Eve Example,,,,\n"  # 10
    )
    assert lines(report) == [2, 7, 9]
    assert report.blank_lines == 3
    assert report.rows == 4  # read as rows: lines 2, 7, 8 and 10


def test_the_header_names_the_columns_in_any_order_and_case() -> None:
    report = check("Country, NAME ,Visibility\nUA,Anna Example,public\n")
    assert report.clean
    [row] = list(clean_rows(report.text))
    assert row == OfflineRow("Anna Example", "", "", "UA", Visibility.PUBLIC)


def test_header_problems_stop_the_check() -> None:
    report = check("Anna Example,Teacher\nBob Example,Teacher\n")
    assert [p.message[:30] for p in report.problems][:1] == ["The first line must name the c"]
    assert {p.line for p in report.problems} == {1}
    report = check("name,name,email\nAnna Example,x,a@example.org\n")
    assert len(report.problems) == 2  # the duplicate and the unknown column
    assert check("city\nKyiv\n").problems[0].params == {"column": "name"}


def test_empty_files_and_a_header_alone() -> None:
    assert "empty" in check("").problems[0].message
    assert "empty" in check("\n\n,,\n").problems[0].message
    assert "only its header" in check(HEADER).problems[0].message


def test_the_report_shows_the_first_problems_and_counts_them_all() -> None:
    report = check(HEADER + "X,,,,\n" * 500)
    assert report.problem_count == 500
    assert len(report.problems) == SHOWN_PROBLEMS
    assert lines(report)[:3] == [2, 3, 4]


def test_too_many_rows_is_one_problem() -> None:
    report = check(HEADER + "Anna Example,,,,\n" * 11, max_rows=10)
    assert [p.line for p in report.problems] == [12]
    assert report.problems[0].params == {"limit": "10"}


def test_values_are_cleaned_as_the_sign_form_cleans_them() -> None:
    report = check(HEADER + "  Anna   Example ,  Kyiv  Uni , Lviv ,ua, Letter_Only \n")
    assert report.clean, report.problems
    [row] = list(clean_rows(report.text))
    assert row == OfflineRow("Anna Example", "Kyiv Uni", "Lviv", "UA", Visibility.LETTER_ONLY)


def test_limits_and_links() -> None:
    report = check(
        HEADER
        + "A" * 121 + ",,,,\n"
        + "Anna Example," + "B" * 161 + ",,,\n"
        + "Anna Example,,www.evil.example,,\n"
        + "Anna Example,Booking.com,,,\n"  # an organisation's name is fine
    )  # fmt: skip
    assert [(p.line, p.column) for p in report.problems] == [
        (2, "name"),
        (3, "affiliation"),
        (4, "city"),
    ]


def test_the_hash_ignores_line_endings() -> None:
    assert content_hash("a\r\nb\r\n") == content_hash("a\nb\n") != content_hash("a\nc\n")
    assert content_hash("a\rb\r") == content_hash("a\nb\n")


def test_lines_ending_in_a_lone_carriage_return() -> None:
    report = check("name,country\rAnna Example,UA\rX,\r")
    assert [(p.line, p.column) for p in report.problems] == [(3, "name")]


def test_the_template_is_clean() -> None:
    report = check(TEMPLATE)
    assert report.clean and report.rows == 3


def test_semicolons_and_tabs_as_spreadsheets_save_them() -> None:
    for separator in (";", "\t"):
        text = f"name{separator}country\nAnna, Example{separator}UA\n"
        report = check(text)
        assert report.clean, report.problems
        assert [row.name for row in clean_rows(report.text)] == ["Anna, Example"]
