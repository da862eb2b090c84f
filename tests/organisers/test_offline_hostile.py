"""Hostile files and sizes: formula cells, NUL bytes, bidi overrides, other encodings, a
10 MB line, too many rows, too many bytes. Nothing is stored, the page says why, by line."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from tests.helpers import add_letter, count, csrf_from
from tests.organisers.paper import (
    ATTESTATION,
    HEADER,
    SLUG,
    base,
    offline_rows,
    problems,
    signed_in_organiser,
    upload,
)
from tests.smtp import SMTPServer


@pytest.fixture
def letter_id(engine: Engine) -> int:
    return add_letter(engine, SLUG)


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_id: int
) -> TestClient:
    return signed_in_organiser(client, engine, worker, smtp, letter_id)


# Hostile files: nothing stored, a clear message, the service unharmed.


def test_hostile_cells_and_bytes_are_reported_by_line(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    content = (
        HEADER.encode()
        + b"Anna Example,,,UA,public\n"  # 2
        + b"+cmd|' /C calc'!A0,,,,\n"  # 3: a formula
        + b"Bob\x00Example,,,,\n"  # 4: a NUL byte
        + b"Carol Example,@SUM(1),,,\n"  # 5: a formula in the affiliation
        + b"D\xe9sir\xe9 Latin,,,,\n"  # 6: Latin-1, not UTF-8
        + b"\xe2\x80\xaeEvil Reversed,,,,\n"  # 7: a bidi override
        + b"Fay Example,,,<b>X</b>,\n"  # 8: markup, shown back as text
    )
    response = upload(organiser, letter_id, content)
    assert response.status_code == 400
    # An encoding problem is reported first, on its own: the lines can only be read once
    # the file is text.
    assert [line for line, _, _ in problems(response)] == ["6"]
    assert "not UTF-8" in response.text
    response = upload(organiser, letter_id, content.replace(b"D\xe9sir\xe9", "Désiré".encode()))
    found = problems(response)
    assert [line for line, _, _ in found] == ["3", "4", "5", "7", "8"]
    assert "NUL" in found[1][2]
    assert found[2][1] == "Affiliation"
    assert "“<b>X</b>” is not a country code" in found[4][2]  # the page's text, not markup
    assert "&lt;b&gt;X&lt;/b&gt;" in response.text
    assert offline_rows(engine) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_files_are_named_as_such(
    organiser: TestClient, engine: Engine, letter_id: int, encoding: str
) -> None:
    content = (HEADER + "Anna Example,,,UA,public\n").encode(encoding)
    response = upload(organiser, letter_id, content)
    assert response.status_code == 400
    assert "UTF-16" in response.text
    assert offline_rows(engine) == []


def test_ten_megabytes_of_one_line_and_of_too_many_rows(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    one_line = HEADER + "A" * 10_000_000
    response = upload(organiser, letter_id, one_line)
    assert response.status_code == 400
    assert [(line, message) for line, _, message in problems(response)] == [
        ("2", "This line is longer than 2000 characters.")
    ]
    rows = HEADER + "".join(f"Signer Number{n},,,,\n" for n in range(500_000))
    assert len(rows) > 10_000_000
    response = upload(organiser, letter_id, rows)
    assert response.status_code == 400
    assert "more than 200,000 signatures" in response.text
    assert offline_rows(engine) == []


@pytest.mark.parametrize("size", [150_000, 400_000])
def test_a_file_over_the_limit_is_refused_with_a_message(
    organiser: TestClient, engine: Engine, letter_id: int, size: int
) -> None:
    """A little over the limit, the file is read and measured, and the page keeps what was
    typed; far over it, the body is read and dropped unparsed. Either way the page says why."""
    organiser.app.state.settings.offline_import_max_bytes = 100_000  # type: ignore[attr-defined]
    content = HEADER + "Anna Example,,,,\n" * (size // 17)
    response = upload(organiser, letter_id, content)
    assert response.status_code == 400
    assert "The file is larger than 0.1 MB" in response.text
    assert ('value="Ilya Exiled"' in response.text) is (size < 200_000)
    assert offline_rows(engine) == []


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    page = organiser.get(f"{base(letter_id)}/import")
    response = organiser.post(
        f"{base(letter_id)}/import",
        content=b"x" * 100,
        headers={"content-length": str(10**12), "content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413
    assert page.status_code == 200 and offline_rows(engine) == []


def test_a_missing_file_and_an_expired_form(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    page = organiser.get(f"{base(letter_id)}/import")
    response = organiser.post(
        f"{base(letter_id)}/import", data=ATTESTATION | {"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 400
    assert "Please choose a CSV file" in response.text
    response = organiser.post(
        f"{base(letter_id)}/import",
        data=ATTESTATION | {"csrf_token": "x" * 43},
        files={"file": ("a.csv", (HEADER + "Anna Example,,,,\n").encode(), "text/csv")},
    )
    assert response.status_code == 400
    assert "Your form had expired" in response.text
    assert offline_rows(engine) == []


def test_the_template_is_a_clean_file(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    template = organiser.get(f"{base(letter_id)}/template.csv")
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("text/csv")
    response = upload(organiser, letter_id, template.content)
    assert response.status_code == 303
    assert count(organiser, SLUG) == 3
