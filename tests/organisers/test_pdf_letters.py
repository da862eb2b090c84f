"""PDF letters from the workspace: started from the dashboard, watched on a page that refreshes
itself, downloaded through links that expire and work only for the organiser shown them; every
step in the audit log. (Wrong organisers and visitors: tests/organisers/test_access.py.)"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta

import itsdangerous.timed
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf.cleanup import clean_up_storage
from app.exports.pdf.models import PdfExportState
from app.exports.pdf.service import JOB_KINDS, export_progress
from app.jobs.worker import JobWorker
from app.kit.tokens import Purpose, Tokens
from app.letters.models import Recipient
from app.main import create_app
from tests.exports.pdf_files import files_of, finish_export, recipient_ids
from tests.exports.test_csv import organise
from tests.helpers import add_letter, csrf_from, queued_jobs
from tests.html import parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "pdf-maker@example.org"
CO_ORGANISER = "co-maker@example.org"


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    add_organiser(engine, ORGANISER)
    organise(engine, ORGANISER, 1)  # the demo letter, with its five recipients
    sign_in(client, ORGANISER, worker, smtp)
    return client


def audit(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT action, detail FROM audit_entries"
                " WHERE action LIKE 'export.pdf%' ORDER BY id"
            )
        )
        return [(row[0], row[1]) for row in rows]


def start(client: TestClient, recipient: str = "all"):  # type: ignore[no-untyped-def]
    dashboard = client.get("/organise/letters/1/dashboard")
    assert dashboard.status_code == 200
    return client.post(
        "/organise/letters/1/pdf",
        data={"recipient": recipient, "csrf_token": csrf_from(dashboard.text)},
        follow_redirects=False,
    )


def download_links(html: str) -> list[str]:
    return [
        link.attrs["href"]
        for link in parse(html).find_all("a")
        if "/files/" in link.attrs.get("href", "")
    ]


def test_dashboard_offers_all_recipients_or_one(organiser: TestClient) -> None:
    page = parse(organiser.get("/organise/letters/1/dashboard").text)
    select = page.by_id("f-recipient")
    assert select is not None
    options = [(option.attrs["value"], option.text()) for option in select.find_all("option")]
    assert options[0] == ("all", "All recipients (5)")
    assert len(options) == 6
    assert ("3", "António Costa, President of the European Council") in options


def test_start_watch_and_download(
    organiser: TestClient, engine: Engine, settings: Settings
) -> None:
    response = start(organiser, recipient="3")
    assert response.status_code == 303
    location = response.headers["location"]
    export_id = int(location.split("?")[0].rsplit("/", 1)[1])
    assert location == f"/organise/letters/1/pdf/{export_id}?watch=1"
    with open_session(engine) as session:
        progress = export_progress(session, export_id)
    assert progress.state is PdfExportState.QUEUED
    assert progress.requested_by is not None
    assert progress.files_total == 1
    assert [job.kind for job in queued_jobs(engine) if job.kind in JOB_KINDS] == ["pdf.plan"]

    waiting = organiser.get(location)
    assert waiting.status_code == 200
    page = parse(waiting.text)
    [refresh] = [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert refresh.attrs["content"] == "3"
    assert page.find("progress") is not None
    assert "Waiting for a worker" in page.text()
    assert download_links(waiting.text) == []
    assert waiting.headers["cache-control"] == "no-store"
    # Opened again later (from the dashboard): it reloads only when asked to.
    unasked = parse(organiser.get(location.split("?")[0]).text)
    assert not [m for m in unasked.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert unasked.find("a", href=location) is not None

    finish_export(engine, settings, export_id)  # as the merge job leaves it
    done = organiser.get(location)
    page = parse(done.text)
    assert not [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert "Done" in page.text()
    [link] = download_links(done.text)
    [file] = files_of(engine, export_id)
    assert f"/letters/all-for-all/verify/{file.verification_code}" in done.text

    pdf = organiser.get(link)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="all-for-all-Antonio-Costa-')
    assert "filename*=UTF-8''all-for-all%20-%20Ant%C3%B3nio%20Costa" in disposition
    assert hashlib.sha256(pdf.content).hexdigest() == file.sha256
    assert audit(engine) == [
        ("export.pdf", f"export {export_id}: recipient 3"),
        ("export.pdf.download", f"export {export_id}, file {file.id} (António Costa)"),
    ]


def test_the_form_explains_what_is_wrong(
    organiser: TestClient, engine: Engine, settings: Settings
) -> None:
    unknown = start(organiser, recipient="999")
    assert unknown.status_code == 400
    assert "Choose one of this letter's recipients" in parse(unknown.text).text()
    expired = organiser.post(
        "/organise/letters/1/pdf", data={"recipient": "all", "csrf_token": "x" * 43}
    )
    assert expired.status_code == 400
    assert "Your form had expired" in expired.text

    assert start(organiser).status_code == 303
    again = start(organiser)
    assert again.status_code == 400
    assert "being made already" in again.text
    assert len(audit(engine)) == 1

    with open_session(engine, write=True) as session:  # a letter without recipients
        session.execute(text("DELETE FROM recipients"))
        session.commit()
    export_id = int(audit(engine)[0][1].split()[1].rstrip(":"))
    finish_export(engine, settings, export_id)
    empty = start(organiser)
    assert empty.status_code == 400
    assert "no recipients" in empty.text


@pytest.fixture
def finished_link(organiser: TestClient, engine: Engine, settings: Settings) -> Iterator[str]:
    response = start(organiser, recipient=str(recipient_ids(engine, "all-for-all")[0]))
    export_id = int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])
    finish_export(engine, settings, export_id)
    [link] = download_links(organiser.get(response.headers["location"]).text)
    yield link


def test_a_download_link_is_for_its_organiser_only(
    finished_link: str, engine: Engine, settings: Settings, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, CO_ORGANISER)
    organise(engine, CO_ORGANISER, 1)
    other_app = create_app(settings)
    with TestClient(other_app, base_url="http://testserver") as co:  # type: ignore[arg-type]
        sign_in(co, CO_ORGANISER, worker, smtp)
        refused = co.get(finished_link)
        assert refused.status_code == 403
        assert "This download link is not yours" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    other_app.state.engine.dispose()
    assert [action for action, _ in audit(engine)] == ["export.pdf"]


def test_a_link_for_one_file_opens_no_other(
    organiser: TestClient, finished_link: str, engine: Engine, settings: Settings
) -> None:
    path, token = finished_link.split("?")
    file_id = int(path.rsplit("/", 1)[1])
    with open_session(engine, write=True) as session:
        session.add(Recipient(letter_id=1, name="Another Recipient"))
        session.commit()
    response = start(organiser, recipient="all")
    export_id = int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])
    finish_export(engine, settings, export_id)
    other = files_of(engine, export_id)[0]
    assert other.id != file_id
    for forged in (
        f"/organise/letters/1/pdf/{export_id}/files/{other.id}?{token}",
        f"{path}?token={token.split('=')[1][:-2]}xx",
        path,
    ):
        assert organiser.get(forged).status_code == 403, forged


def test_an_old_link_has_expired(
    organiser: TestClient, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = start(organiser, recipient="3")
    export_id = int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])
    finish_export(engine, settings, export_id)
    [link] = download_links(organiser.get(response.headers["location"]).text)
    path, token = link.split("?token=")
    tokens = Tokens(settings.resolved_secret_keys())
    payload = tokens.read(Purpose.PDF_DOWNLOAD, token, max_age_seconds=60)
    two_hours_ago = int(time.time()) - 7200
    with monkeypatch.context() as patched:  # the same link, as the page gave it two hours ago
        patched.setattr(
            itsdangerous.timed.TimestampSigner, "get_timestamp", lambda _: two_hours_ago
        )
        old = tokens.make(Purpose.PDF_DOWNLOAD, payload)
    assert organiser.get(f"{path}?token={token}").status_code == 200
    expired = organiser.get(f"{path}?token={old}")
    assert expired.status_code == 410
    assert "This download link has expired" in expired.text
    assert f"/organise/letters/1/pdf/{export_id}" in expired.text


def test_files_past_their_keeping_time_are_deleted_and_the_page_says_so(
    organiser: TestClient, engine: Engine, settings: Settings
) -> None:
    response = start(organiser, recipient="3")
    location = response.headers["location"].split("?")[0]
    export_id = int(location.rsplit("/", 1)[1])
    finish_export(engine, settings, export_id)
    [link] = download_links(organiser.get(location).text)
    with open_session(engine, write=True) as session:
        session.execute(
            text("UPDATE pdf_exports SET finished_at = :when WHERE id = :id"),
            {"when": utcnow() - timedelta(days=settings.pdf_keep_days + 1), "id": export_id},
        )
        session.commit()
    assert clean_up_storage(settings, engine) == (1, 0)
    page = organiser.get(location)
    assert download_links(page.text) == []
    assert "Deleted 30 days after the export" in parse(page.text).text()
    assert organiser.get(link).status_code == 404  # a link shown before leads nowhere now
    [file] = files_of(engine, export_id)
    verify = organiser.get(f"/letters/all-for-all/verify/{file.verification_code}")
    assert verify.status_code == 200 and file.sha256 in verify.text


def test_an_export_is_seen_only_under_its_own_letter(
    organiser: TestClient, engine: Engine, settings: Settings
) -> None:
    response = start(organiser, recipient="3")
    export_id = int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])
    other_letter = add_letter(engine, "second-letter")
    organise(engine, ORGANISER, other_letter)
    wrong = organiser.get(f"/organise/letters/{other_letter}/pdf/{export_id}")
    assert wrong.status_code == 404
    assert "All for all" not in wrong.text
