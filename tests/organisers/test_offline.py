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
from starlette.testclient import TestClient

from app.db import open_session
from app.exports.csv import BOM
from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState
from tests.helpers import add_letter, add_signature, count, csrf_from
from tests.html import field_errors, parse
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
