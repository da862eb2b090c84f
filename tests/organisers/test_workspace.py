"""Writing, publishing and closing a letter from the workspace, with every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.cli import main
from app.config import Settings
from app.db import utcnow
from app.jobs.worker import JobWorker
from tests.helpers import csrf_from, new_mail, sign
from tests.html import field_errors, form_values, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "writer@example.org"
LETTER = {
    "title": "Free them all",
    "slug": "free-them-all",
    "summary": "A letter for the prisoners.",
    "body_markdown": "We ask for **everyone**.\n\n<script>alert(1)</script>",
    "language": "en",
    "goal": "5000",
    "closes_on": "",
}


def _post_letter(client: TestClient, path: str, **values: str):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data=LETTER | values | {"csrf_token": csrf_from(page.text)})


@pytest.fixture
def writer(client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer) -> TestClient:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    return client


def _new_letter(client: TestClient) -> str:
    created = _post_letter(client, "/organise/letters/new")
    assert created.status_code == 200, created.text
    return str(created.url.path)


def test_a_letter_from_draft_to_closed(writer: TestClient) -> None:
    overview = _new_letter(writer)
    assert overview.startswith("/organise/letters/")
    page = writer.get(overview)
    assert "Free them all" in page.text and "Draft" in page.text
    assert writer.get("/letters/free-them-all").status_code == 404  # a draft is not public

    def move(to: str) -> None:
        token = csrf_from(writer.get(overview).text)
        assert (
            writer.post(f"{overview}/status", data={"to": to, "csrf_token": token}).status_code
            == 200
        )

    move("open")
    public = writer.get("/letters/free-them-all")
    assert public.status_code == 200
    assert "<strong>everyone</strong>" in public.text
    assert "<script>alert(1)</script>" not in public.text  # raw HTML stays text
    assert sign(writer, "free-them-all", email="reader@example.org").status_code == 200
    move("closed")
    assert "no longer accepts signatures" in writer.get("/letters/free-them-all").text
    move("draft")  # not a move a letter can make: nothing happens
    assert "Reopen" in writer.get(overview).text

    audit = writer.get(f"{overview}/audit").text
    assert audit.count("letter.status") == 2
    assert "letter.created" in audit and ORGANISER in audit
    assert "draft -&gt; open" in audit and "open -&gt; closed" in audit


def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(writer: TestClient) -> None:
    response = _post_letter(
        writer,
        "/organise/letters/new",
        title="",
        slug="Not A Slug!",
        goal="-3",
        closes_on="2001-01-01",
        language="english",
    )
    assert response.status_code == 400
    doc = parse(response.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == "/organise/letters/new"]
    errors = field_errors(doc, form)
    assert set(errors) == {"title", "slug", "goal", "closes_on", "language"}
    values = form_values(form)
    assert values["slug"] == "Not A Slug!" and values["goal"] == "-3"
    assert "We ask for **everyone**." in response.text  # the body is kept too


def test_preview_renders_without_saving(writer: TestClient) -> None:
    preview = _post_letter(writer, "/organise/letters/new", action="preview")
    assert preview.status_code == 200
    assert "<strong>everyone</strong>" in preview.text
    assert "&lt;script&gt;" in preview.text or "alert(1)" not in preview.text
    assert "You organise no letter yet" in writer.get("/organise").text


def test_edits_are_saved_and_audited_and_slugs_stay_unique(writer: TestClient) -> None:
    overview = _new_letter(writer)
    edited = _post_letter(writer, f"{overview}/edit", title="Free them all, now", goal="")
    assert edited.status_code == 200
    assert "Free them all, now" in edited.text
    second = _post_letter(writer, "/organise/letters/new", slug="second-letter")
    assert second.status_code == 200
    clash = _post_letter(writer, f"{second.url.path}/edit", slug="free-them-all")
    assert clash.status_code == 400
    assert "Another letter already has this address." in clash.text
    assert "title, goal" in writer.get(f"{overview}/audit").text


def test_a_co_organiser_sees_the_letter_and_an_admin_sees_all(
    writer: TestClient,
    app_and_engine: tuple[object, Engine],
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    overview = _new_letter(writer)
    add_organiser(engine, "partner@example.org")
    add_organiser(engine, "boss@example.org", admin=True)
    page = writer.get(overview)
    writer.post(
        f"{overview}/organisers",
        data={"email": "partner@example.org", "csrf_token": csrf_from(page.text)},
    )
    for email in ("partner@example.org", "boss@example.org"):
        with TestClient(app_and_engine[0], base_url="http://testserver") as other:  # type: ignore[arg-type]
            sign_in(other, email, worker, smtp)
            assert "Free them all" in other.get("/organise").text
            assert other.get(overview).status_code == 200


def test_only_admins_invite_organisers(
    writer: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    token = csrf_from(writer.get("/organise").text)
    refused = writer.post(
        "/organise/organisers", data={"email": "new@example.org", "csrf_token": token}
    )
    assert refused.status_code == 404
    assert new_mail(worker, smtp) == []


def test_create_organiser_command(
    settings: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "BASE_URL": settings.base_url,
        "SECRET_KEYS": settings.secret_keys[0],
        "ENCRYPTION_KEYS": settings.encryption_keys[0],
        "HASH_KEY": settings.hash_key,
        "SMTP_HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(f"UNDERSIGNED_{name}", value)
    assert main(["create-organiser", "First@Example.org", "--admin"]) == 0
    assert "Created: admin account" in capsys.readouterr().out
    assert main(["create-organiser", "first@example.org"]) == 0
    assert "Already there" in capsys.readouterr().out
    assert main(["create-organiser", "not an address"]) == 2


def test_a_closed_letter_is_delivered_and_the_log_is_public(writer: TestClient) -> None:
    overview = _new_letter(writer)
    _post_letter(
        writer,
        f"{overview}/edit",
        publisher_name="Friends of the Prisoners",
        publisher_contact="letters@friends.example",
        delivery_plan="Handed to each embassy in Vilnius after the summit.",
    )

    def deliver(**values: str):  # type: ignore[no-untyped-def]
        token = csrf_from(writer.get(overview).text)
        return writer.post(f"{overview}/deliveries", data=values | {"csrf_token": token})

    def move(to: str) -> None:
        token = csrf_from(writer.get(overview).text)
        writer.post(f"{overview}/status", data={"to": to, "csrf_token": token})

    move("open")
    today = utcnow().date().isoformat()
    early = deliver(delivered_on=today, recipient="The EU", method="by post")
    assert early.status_code == 200 and "Deliveries" not in early.text  # an open letter: not yet
    move("closed")
    bad = deliver(delivered_on="soon", recipient="", method="by post")
    assert bad.status_code == 400
    assert "Use a date such as" in bad.text and "This is required." in bad.text
    assert 'value="by post"' in bad.text
    assert deliver(delivered_on=today, recipient="The EU", method="by post").status_code == 200
    deliver(delivered_on=today, recipient="President of Ukraine", method="in person")
    page = writer.get(overview).text
    assert "Delivered" in page and "President of Ukraine" in page

    public = writer.get("/letters/free-them-all").text
    assert "Friends of the Prisoners" in public and "letters@friends.example" in public
    assert "Handed to each embassy" in public
    assert "to The EU (by post)" in public and "to President of Ukraine (in person)" in public
    assert "letter.delivered" in writer.get(f"{overview}/audit").text


def test_an_open_letters_text_is_versioned_and_signatures_record_theirs(
    writer: TestClient, engine: Engine
) -> None:
    overview = _new_letter(writer)
    _post_letter(writer, f"{overview}/edit", title="Still a draft")  # drafts are not versioned
    token = csrf_from(writer.get(overview).text)
    writer.post(f"{overview}/status", data={"to": "open", "csrf_token": token})
    assert "last changed" not in writer.get("/letters/free-them-all").text
    sign(writer, "free-them-all", email="early@example.org")

    _post_letter(writer, f"{overview}/edit", title="Still a draft", goal="6000")  # not the text
    edited = _post_letter(
        writer, f"{overview}/edit", title="Still a draft", body_markdown="We ask, now."
    )
    assert edited.status_code == 200, edited.text
    public = writer.get("/letters/free-them-all").text
    assert "The text was last changed on" in public and "(version 2)" in public
    sign(writer, "free-them-all", email="late@example.org")

    with engine.connect() as connection:
        versions = connection.execute(
            text("SELECT number, title, body_markdown FROM letter_versions ORDER BY number")
        ).all()
        signed = connection.execute(text("SELECT letter_version FROM signatures ORDER BY id")).all()
    assert [(n, t) for n, t, _ in versions] == [(1, "Still a draft"), (2, "Still a draft")]
    assert "now" not in versions[0][2] and "now" in versions[1][2]
    assert [row[0] for row in signed] == [1, 2]


def test_findings_of_the_attack_on_the_workspace(
    writer: TestClient,
    engine: Engine,
    app_and_engine: tuple[object, Engine],
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    """Each line was a 500 or a hole before: odd ids, a superscript goal, a closing date that
    had passed, a published letter's address handed to another, silent co-organiser changes,
    deliveries dated before the letter existed."""
    # Odd ids: a clear 400 or 404 for an admin as for anyone, never a 500.
    add_organiser(engine, "admin@example.org", admin=True)
    with TestClient(app_and_engine[0], base_url="http://testserver") as admin:  # type: ignore[arg-type]
        sign_in(admin, "admin@example.org", worker, smtp)
        for browser in (writer, admin):
            for letter_id in ("0", "-1", "999999", str(2**31), str(2**63), str(10**20)):
                for path in ("", "/edit", "/audit", "/signatures", "/recipients"):
                    status = browser.get(f"/organise/letters/{letter_id}{path}").status_code
                    assert status in (400, 404), (letter_id, path, status)
    assert _post_letter(writer, "/organise/letters/new", goal="²").status_code == 400

    overview = _new_letter(writer)
    token = csrf_from(writer.get(overview).text)
    writer.post(f"{overview}/status", data={"to": "open", "csrf_token": token})
    moved = _post_letter(writer, f"{overview}/edit", slug="somewhere-else")
    assert moved.status_code == 400
    assert "keeps its address" in moved.text
    with engine.begin() as connection:
        connection.execute(text("UPDATE letters SET closes_at = '2001-01-01 23:59:59'"))
    kept = _post_letter(writer, f"{overview}/edit", closes_on="2001-01-01", summary="Corrected")
    assert kept.status_code == 200, kept.text

    add_organiser(engine, "partner@example.org")
    for _ in range(2):
        token = csrf_from(writer.get(overview).text)
        writer.post(
            f"{overview}/organisers", data={"email": "partner@example.org", "csrf_token": token}
        )
    audit = writer.get(f"{overview}/audit").text
    assert audit.count("letter.organiser_added") == 1 and "partner@example.org" in audit

    token = csrf_from(writer.get(overview).text)
    writer.post(f"{overview}/status", data={"to": "closed", "csrf_token": token})
    for when in ("0001-01-01", "20261101", "2026-W01-1"):
        token = csrf_from(writer.get(overview).text)
        early = writer.post(
            f"{overview}/deliveries",
            data={"delivered_on": when, "recipient": "X", "method": "post", "csrf_token": token},
        )
        assert early.status_code == 400, when
