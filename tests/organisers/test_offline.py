"""Offline signatures as an organiser enters them: one by one under an attestation, or from a
CSV file that is checked line by line and imported whole or not at all; they count, show only
as the signer chose, are marked offline in the organisers' views, and an import can be undone."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select
from starlette.testclient import TestClient

from app.db import open_session
from app.exports.csv import BOM
from app.jobs.worker import JobWorker
from app.signatures.models import Signature, SignatureSource, SignatureState
from tests.helpers import TEST_KEYRING, add_letter, add_signature, count, csrf_from
from tests.html import field_errors, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "paper@example.org"
SLUG = "paper-letter"
HEADER = "name,affiliation,city,country,visibility\n"


@pytest.fixture
def letter_id(engine: Engine) -> int:
    return add_letter(engine, SLUG)


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_id: int
) -> TestClient:
    from app.organisers.service import add_to_letter, find_organiser_id

    add_organiser(engine, ORGANISER)
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=ORGANISER, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=letter_id)
        session.commit()
    sign_in(client, ORGANISER, worker, smtp)
    return client


ATTESTATION = {
    "attestation": "new",
    "collector": "Ilya Exiled",
    "method": "Paper forms signed in prisons",
    "collected_from": "2026-01-10",
    "collected_until": "2026-02-20",
    "note": "Originals kept in Vilnius.",
}


def base(letter_id: int) -> str:
    return f"/organise/letters/{letter_id}/offline"


def upload(
    client: TestClient,
    letter_id: int,
    content: bytes | str,
    *,
    fields: dict[str, str] | None = None,
    name: str = "signatures.csv",
):  # type: ignore[no-untyped-def]
    page = client.get(f"{base(letter_id)}/import")
    assert page.status_code == 200, page.text
    data = (fields if fields is not None else ATTESTATION) | {"csrf_token": csrf_from(page.text)}
    body = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        f"{base(letter_id)}/import",
        data=data,
        files={"file": (name, body, "text/csv")},
        follow_redirects=False,
    )


def offline_rows(engine: Engine) -> list[Signature]:
    with open_session(engine) as session:
        return list(
            session.exec(
                select(Signature)
                .where(Signature.source == SignatureSource.OFFLINE)
                .order_by(Signature.id)  # type: ignore[arg-type]
            ).all()
        )


def problems(response) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(line, column, message) rows of the page's report of problems."""
    doc = parse(response.text)
    table = doc.find("table", class_="data-table")
    report = doc.find("section", class_="error-summary import-report")
    assert report is not None, "no report of problems on the page"
    table = report.find("table")
    assert table is not None
    found = []
    for row in table.find_all("tr")[1:]:
        cells = [cell.text() for cell in row.find_all("td")]
        found.append((cells[0], cells[1], cells[2]))
    return found


def test_bad_rows_are_reported_by_line_and_nothing_is_stored(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    content = (
        HEADER
        + "Anna Kowalska,Teacher,Kharkiv,UA,public\n"  # line 2: fine
        + '=HYPERLINK("http://evil"),,,,\n'  # 3: formula (and a link)
        + "Bob Example,,,XX,public\n"  # 4: no such country
        + "Carol Example,,,UA,everyone\n"  # 5: no such visibility
        + "\n"  # 6: blank, skipped
        + "Dan Example,,,UA\n"  # 7: a value missing
        + "Eve Example,,,ua,counted_only\n"  # 8: fine (code in lower case)
        + "E,,,,\n"  # 9: too short a name
    )
    response = upload(organiser, letter_id, content)
    assert response.status_code == 400
    found = problems(response)
    assert [line for line, _, _ in found] == ["3", "4", "5", "7", "9"]
    assert "cannot start with" in found[0][2]
    assert "“XX” is not a country code" in found[1][2]
    assert "“everyone” is not a visibility" in found[2][2]
    assert "4 values where the header has 5" in found[3][2]
    assert "Nothing was imported: 5 problems" in response.text
    assert offline_rows(engine) == []
    # What was typed for the attestation is kept.
    form = parse(response.text).find("form", enctype="multipart/form-data")
    assert form is not None
    assert 'value="Ilya Exiled"' in response.text


def test_a_clean_file_is_stored_whole_and_counts(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    before = count(organiser, SLUG)
    lines = [f"Signer Number{n},,City{n % 3},UA,public" for n in range(250)]
    response = upload(organiser, letter_id, BOM + HEADER + "\r\n".join(lines) + "\r\n\r\n")
    assert response.status_code == 303, response.text
    stored = offline_rows(engine)
    assert len(stored) == 250
    assert {s.state for s in stored} == {SignatureState.CONFIRMED}
    assert all(s.email_hash is None and s.email_encrypted is None for s in stored)
    assert len({s.attestation_id for s in stored}) == 1
    assert count(organiser, SLUG) == before + 250
    page = organiser.get(response.headers["location"])
    assert "Imported 250 signatures from signatures.csv" in page.text
    assert "Ilya Exiled" in page.text
    # Bulk-inserted timestamps are stored as the ORM stores them (SQLite compares them as text).
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT confirmed_at FROM signatures WHERE source = 'offline'")
        ).first()
    assert raw is not None
    if isinstance(raw[0], str):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw[0]), raw[0]


def entry(client: TestClient, letter_id: int, **fields: str):  # type: ignore[no-untyped-def]
    page = client.get(f"{base(letter_id)}/new")
    assert page.status_code == 200, page.text
    data = {"name": "", "affiliation": "", "city": "", "country": "", "visibility": "public"}
    data |= fields | {"csrf_token": csrf_from(page.text)}
    return client.post(f"{base(letter_id)}/new", data=data, follow_redirects=False)


def test_one_by_one_marks_mistakes_keeps_what_was_typed_then_adds(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    response = entry(
        organiser,
        letter_id,
        name="Visit evil.com",
        city="Kharkiv",
        country="UA",
        attestation="new",
        collector="",
        method="Paper forms",
        collected_from="2026-13-01",
    )
    assert response.status_code == 400
    doc = parse(response.text)
    form = doc.find("form", action=f"{base(letter_id)}/new")
    assert form is not None
    errors = field_errors(doc, form)
    assert set(errors) == {"name", "collector", "collected_from"}
    assert "Web addresses" in errors["name"]
    assert 'value="Visit evil.com"' in response.text and 'value="Paper forms"' in response.text
    assert offline_rows(engine) == []

    first = entry(
        organiser, letter_id, name="Olena Shevchenko", country="UA", visibility="letter_only",
        **(ATTESTATION | {"collected_until": ""}),
    )  # fmt: skip
    assert first.status_code == 303, first.text
    # The form comes back ready for the next one, under the same attestation.
    page = organiser.get(first.headers["location"])
    assert "Signature added" in page.text
    selected = parse(page.text).find("option", selected="")
    assert selected is not None and "Ilya Exiled" in selected.text()
    second = entry(
        organiser, letter_id, name="Taras Bondar", visibility="counted_only",
        attestation=selected.attrs["value"],
    )  # fmt: skip
    assert second.status_code == 303, second.text
    [one, two] = offline_rows(engine)
    assert one.attestation_id == two.attestation_id is not None
    assert (one.name, one.country, one.visibility.value) == (
        "Olena Shevchenko",
        "UA",
        "letter_only",
    )
    assert one.offline_import_id is None and one.email_hash is None
    assert count(organiser, SLUG) == 2


def test_an_attestation_of_another_letter_cannot_be_used(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    other = add_letter(engine, "someone-elses")
    from app.signatures import offline

    with open_session(engine, write=True) as session:
        foreign = offline.create_attestation(
            session,
            letter_id=other,
            data=offline.AttestationInput("X Y", "paper", date(2026, 1, 1), None),
            organiser_id=None,
        )
        session.commit()
    response = entry(organiser, letter_id, name="Olena Shevchenko", attestation=str(foreign))
    assert response.status_code == 400
    assert "choose an attestation from the list" in response.text
    response = upload(
        organiser, letter_id, HEADER + "Anna Example,,,,\n", fields={"attestation": str(foreign)}
    )
    assert response.status_code == 400
    assert offline_rows(engine) == []


def public_names(client: TestClient) -> str:
    return client.get(f"/letters/{SLUG}/signatures").text + client.get(f"/letters/{SLUG}").text


def test_visibility_is_respected_on_public_lists_and_all_count(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    content = (
        HEADER
        + "Public Person,,,UA,public\n"
        + "Letter Person,,,UA,letter_only\n"
        + "Counted Person,,,UA,counted_only\n"
        + "Default Person,,,UA,\n"
    )
    assert upload(organiser, letter_id, content).status_code == 303
    assert count(organiser, SLUG) == 4
    shown = public_names(organiser)
    assert "Public Person" in shown
    for hidden in ("Letter Person", "Counted Person", "Default Person"):
        assert hidden not in shown
    [default] = [s for s in offline_rows(engine) if s.name == "Default Person"]
    assert default.visibility.value == "counted_only"


def test_offline_signatures_are_marked_and_moderated_like_others(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    add_signature(engine, SLUG, name="Online Person", email="online@example.org")
    content = HEADER + "Paper Public,,,UA,public\nPaper Counted,,,GE,counted_only\n"
    assert upload(organiser, letter_id, content).status_code == 303
    listing = organiser.get(f"/organise/letters/{letter_id}/signatures?source=offline")
    rows = parse(listing.text).find_all("tr")[1:]
    assert len(rows) == 2
    assert all("offline" in row.text() and "Ilya Exiled" in row.text() for row in rows)
    online = organiser.get(f"/organise/letters/{letter_id}/signatures?source=online")
    assert "Online Person" in online.text and "Paper Public" not in online.text

    dashboard = parse(organiser.get(f"/organise/letters/{letter_id}/dashboard").text)
    assert dashboard.by_id("offline-count").text() == "2"  # type: ignore[union-attr]
    assert dashboard.by_id("online-count").text() == "1"  # type: ignore[union-attr]

    export = organiser.get(f"/organise/letters/{letter_id}/signatures.csv")
    exported = list(csv.DictReader(io.StringIO(export.content.decode("utf-8").removeprefix(BOM))))
    by_source = {(row["name"], row["source"]) for row in exported}
    assert by_source == {("Online Person", "online"), ("Paper Public", "offline"), ("", "offline")}
    paper = [row for row in exported if row["source"] == "offline"]
    assert all(row["attestation"].startswith("Ilya Exiled, Paper forms") for row in paper)
    assert all(row["email"] == "" for row in paper)

    # Hidden and invalidated like any other.
    [public] = [s for s in offline_rows(engine) if s.name == "Paper Public"]
    token = csrf_from(listing.text)
    signatures = f"/organise/letters/{letter_id}/signatures"
    organiser.post(f"{signatures}/{public.id}/visibility", data={"hide": "1", "csrf_token": token})
    assert "Paper Public" not in public_names(organiser)
    assert count(organiser, SLUG) == 3
    organiser.post(
        f"{signatures}/{public.id}/invalidate", data={"reason": "Duplicate", "csrf_token": token}
    )
    assert count(organiser, SLUG) == 2


def test_the_same_file_twice_asks_first(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    content = HEADER + "Anna Example,,,UA,public\nBoris Example,,,UA,public\n"
    assert upload(organiser, letter_id, content).status_code == 303
    # The same signatures, saved again with other line endings and a byte-order mark.
    again = BOM + content.replace("\n", "\r\n")
    response = upload(organiser, letter_id, again, name="copy.csv")
    assert response.status_code == 409
    assert "imported into this letter before" in response.text
    assert "signatures.csv" in response.text
    assert len(offline_rows(engine)) == 2
    response = upload(organiser, letter_id, again, fields=ATTESTATION | {"again": "yes"})
    assert response.status_code == 303
    assert len(offline_rows(engine)) == 4
    assert count(organiser, SLUG) == 4


def test_an_import_can_be_undone_once(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    assert entry(organiser, letter_id, name="Kept By Hand", **ATTESTATION).status_code == 303
    content = HEADER + "".join(f"Undone Number{n},,,UA,public\n" for n in range(30))
    response = upload(organiser, letter_id, content)
    assert response.status_code == 303
    import_id = int(response.headers["location"].rpartition("=")[2])
    assert count(organiser, SLUG) == 31
    undo = f"{base(letter_id)}/imports/{import_id}/undo"
    page = organiser.get(undo)
    assert "Delete these 30 signatures" in page.text
    done = organiser.post(undo, data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert [s.name for s in offline_rows(engine)] == ["Kept By Hand"]
    assert count(organiser, SLUG) == 1
    # A second press changes nothing; the import stays listed as undone.
    organiser.post(undo, data={"csrf_token": csrf_from(page.text)})
    overview = organiser.get(base(letter_id)).text
    assert "30 deleted" in overview
    audit = organiser.get(f"/organise/letters/{letter_id}/audit").text
    assert audit.count("offline.import_undone") == 1
    assert "offline.imported" in audit and "offline.added" in audit
    assert "Undone Number" not in audit  # the log names no signer
    # Undone, the same file may be imported again without a warning.
    assert upload(organiser, letter_id, content).status_code == 303


def test_a_delivered_letter_takes_no_more(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    from app.letters.models import LetterStatus
    from tests.helpers import update_letter

    update_letter(engine, SLUG, status=LetterStatus.DELIVERED)
    assert upload(organiser, letter_id, HEADER + "Late Person,,,,\n").status_code == 409
    assert entry(organiser, letter_id, name="Late Person", **ATTESTATION).status_code == 409
    assert offline_rows(engine) == []


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


def test_the_check_constraint_keeps_addresses_off_offline_rows(
    engine: Engine, letter_id: int
) -> None:
    from sqlalchemy.exc import IntegrityError

    with engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(
            text(
                "INSERT INTO signatures (public_id, letter_id, name, affiliation, city, country,"
                " language, visibility, may_contact, state, mails_in_window, created_at,"
                " invalidated_reason, source, email_hash) VALUES ('p', :letter, 'A B', '', '',"
                " '', 'en', 'public', false, 'confirmed', 0, CURRENT_TIMESTAMP, '', 'offline',"
                " 'somehash')"
            ),
            {"letter": letter_id},
        )


def test_an_import_of_another_letter_is_not_found_through_this_one(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    """The organiser of this letter names another letter's import under this letter's address:
    'not found', and the other letter's signatures stay."""
    from app.signatures import offline
    from app.signatures.models import Visibility
    from app.signatures.offline_csv import OfflineRow

    other = add_letter(engine, "not-mine")
    with open_session(engine, write=True) as session:
        attestation = offline.create_attestation(
            session,
            letter_id=other,
            data=offline.AttestationInput("X Y", "paper", date(2026, 1, 1), None),
            organiser_id=None,
        )
        import_id, _ = offline.import_rows(
            session, letter_id=other, attestation_id=attestation, language="en",
            rows=[OfflineRow("Not Mine", "", "", "", Visibility.PUBLIC)],
            file_name="x.csv", file_sha256="1" * 64, organiser_id=None,
        )  # fmt: skip
        session.commit()
    undo = f"{base(letter_id)}/imports/{import_id}/undo"
    assert organiser.get(undo).status_code == 404
    token = csrf_from(organiser.get(base(letter_id)).text)
    assert organiser.post(undo, data={"csrf_token": token}).status_code == 404
    assert [s.name for s in offline_rows(engine)] == ["Not Mine"]
    assert "Not Mine" not in organiser.get(base(letter_id)).text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reading_and_checking_a_file_never_holds_the_writer_lock(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    """While the upload is read and checked, signers go on signing: with SQLite's one writer
    lock held elsewhere, a file with a bad row is still answered at once (it would wait for
    the lock, then get 503, if the request took a writer's session)."""
    from app.db import _writer_locks

    page = organiser.get(f"{base(letter_id)}/import")
    lock = _writer_locks[engine]
    assert lock.acquire(timeout=5)
    try:
        response = organiser.post(
            f"{base(letter_id)}/import",
            data=ATTESTATION | {"csrf_token": csrf_from(page.text)},
            files={"file": ("a.csv", (HEADER + "X,,,,\n").encode(), "text/csv")},
        )
    finally:
        lock.release()
    assert response.status_code == 400
    assert "Nothing was imported: 1 problem" in response.text


def test_the_same_file_sent_at_once_several_times_is_stored_once(
    organiser: TestClient, live_server: str, engine: Engine, letter_id: int
) -> None:
    """Four uploads of one file at the same moment on a real server: each is checked while the
    others are, but imports into a letter take turns, so one stores it and three are asked."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx2 as httpx

    token = csrf_from(organiser.get(f"{base(letter_id)}/import").text)
    cookies = {name: organiser.cookies[name] for name in ("us_organiser", "us_csrf")}
    content = (HEADER + "".join(f"Rush Number{n},,,UA,public\n" for n in range(2000))).encode()
    barrier = threading.Barrier(4)

    def post_once(_: int) -> int:
        with httpx.Client(base_url=live_server, cookies=cookies, timeout=120) as client:
            barrier.wait(timeout=30)
            return client.post(
                f"{base(letter_id)}/import",
                data=ATTESTATION | {"csrf_token": token},
                files={"file": ("rush.csv", content, "text/csv")},
                follow_redirects=False,
            ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(post_once, range(4)))
    assert statuses == [303, 409, 409, 409]
    assert len(offline_rows(engine)) == 2000
