"""Writing an update: mistakes marked next to their fields with what was typed kept, a preview
rendered like letters (no raw HTML, no images), versions edited and deleted, all audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.organisers.service import add_to_letter
from tests.helpers import add_letter, csrf_from
from tests.html import field_errors, form_values, parse
from tests.smtp import SMTPServer
from tests.updates.helpers import add_version, letter_id_of, signed_in_organiser, write_update


@pytest.fixture
def writer(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    return signed_in_organiser(client, engine, worker, smtp, letter_slug)


def post_form(client: TestClient, path: str, **values: str):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.text
    data = {"subject": "", "body_markdown": "", "language": "en", "action": "save"} | values
    return client.post(path, data=data | {"csrf_token": csrf_from(page.text)})


def test_mistakes_are_marked_and_what_was_typed_is_kept(
    writer: TestClient, engine: Engine, letter_slug: str
) -> None:
    path = f"/organise/letters/{letter_id_of(engine, letter_slug)}/updates/new"
    response = post_form(
        writer, path, subject="Line one\r\nBcc: everyone@example.org", body_markdown="Kept text.",
        language="English",
    )  # fmt: skip
    assert response.status_code == 400
    doc = parse(response.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == path]
    errors = field_errors(doc, form)
    assert set(errors) == {"subject", "language"}
    assert form_values(form)["body_markdown"] == "Kept text."
    assert form_values(form)["language"] == "English"
    empty = post_form(writer, path, subject="", body_markdown="")
    empty_doc = parse(empty.text)
    empty_form = empty_doc.find("form", action=path)
    assert empty_form is not None
    assert set(field_errors(empty_doc, empty_form)) == {"subject", "body_markdown"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM updates")).scalar_one() == 0


def test_the_preview_renders_markdown_without_html_or_images(
    writer: TestClient, engine: Engine, letter_slug: str
) -> None:
    path = f"/organise/letters/{letter_id_of(engine, letter_slug)}/updates/new"
    body = "Hello *all*.\n\n<script>alert(1)</script>\n\n![x](https://tracker.example/p.gif)"
    preview = post_form(writer, path, subject="Preview me", body_markdown=body, action="preview")
    assert preview.status_code == 200
    assert "<em>all</em>" in preview.text
    assert "<script>alert(1)</script>" not in preview.text
    assert "&lt;script&gt;" in preview.text
    assert "<img" not in preview.text.split('id="preview-heading"')[1]  # at most a plain link
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM updates")).scalar_one() == 0


def test_a_draft_and_its_versions_are_edited_and_deleted(
    writer: TestClient, engine: Engine, letter_slug: str
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    update_path = write_update(writer, letter_id, subject="First")
    edited = post_form(writer, update_path, subject="Second", body_markdown="New text.")
    assert edited.status_code == 200  # redirected back to the draft
    assert 'value="Second"' in writer.get(update_path).text
    assert add_version(writer, update_path, "uk", "Друге", "Текст.").status_code == 303
    # The original's language may not become one a version is written in.
    clash = post_form(writer, update_path, subject="Second", body_markdown="x", language="uk")
    assert clash.status_code == 400 and "There is a version in this language already" in clash.text
    with engine.connect() as connection:
        version_id = connection.execute(text("SELECT id FROM update_versions")).scalar_one()
    version_path = f"{update_path}/versions/{version_id}"
    changed = post_form(writer, version_path, subject="Друге, виправлене", body_markdown="Так.")
    assert changed.status_code == 200
    with engine.connect() as connection:
        row = connection.execute(text("SELECT language, subject FROM update_versions")).one()
    assert tuple(row) == ("uk", "Друге, виправлене")  # its language stays
    token = csrf_from(writer.get(update_path).text)
    writer.post(f"{version_path}/delete", data={"csrf_token": token})
    writer.post(f"{update_path}/delete", data={"csrf_token": token})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM updates")).scalar_one() == 0
    audit = writer.get(f"/organise/letters/{letter_id}/audit").text
    for action in (
        "update.created",
        "update.edited",
        "update.version_added",
        "update.version_edited",
        "update.version_deleted",
        "update.deleted",
    ):
        assert action in audit, action


def test_the_letter_page_and_the_list_lead_to_updates(
    writer: TestClient, engine: Engine, letter_slug: str
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    assert (
        f"/organise/letters/{letter_id}/updates"
        in writer.get(f"/organise/letters/{letter_id}").text
    )
    update_path = write_update(writer, letter_id, subject="Listed subject")
    listing = writer.get(f"/organise/letters/{letter_id}/updates").text
    assert "Listed subject" in listing and update_path in listing


def test_an_update_is_reached_only_through_its_own_letter(
    writer: TestClient, engine: Engine, letter_slug: str
) -> None:
    """The writer organises both letters; another letter's update under this letter's address
    is 'not found', and so is a version under another update."""
    own = letter_id_of(engine, letter_slug)
    other = add_letter(engine, "second-letter")
    with open_session(engine, write=True) as session:
        add_to_letter(session, organiser_id=1, letter_id=other)  # the writer: organiser 1
        session.commit()
    theirs = write_update(writer, other)
    mine = write_update(writer, own)
    assert add_version(writer, theirs, "ru", "Их", "Текст.").status_code == 303
    update_id = theirs.rsplit("/", 1)[1]
    crossed = f"/organise/letters/{own}/updates/{update_id}"
    assert writer.get(crossed).status_code == 404
    assert writer.get(f"{crossed}/send").status_code == 404
    token = csrf_from(writer.get(mine).text)
    assert writer.post(f"{crossed}/send", data={"csrf_token": token}).status_code == 404
    with engine.connect() as connection:
        version_id = connection.execute(text("SELECT id FROM update_versions")).scalar_one()
    assert writer.get(f"{mine}/versions/{version_id}").status_code == 404
    deleted = writer.post(f"{mine}/versions/{version_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 404
    with engine.connect() as connection:
        assert connection.execute(text("SELECT state FROM updates")).scalars().all() == [
            "draft",
            "draft",
        ]
        assert connection.execute(text("SELECT count(*) FROM update_versions")).scalar_one() == 1
