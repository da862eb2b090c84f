"""PDF letters: what the recipient reads (text extracted with pypdf), who is named and who is
not, page numbers across chunks, the chunk cache, and a hostile letter body."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from sqlalchemy import Engine, update
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.exports.pdf import merge, render
from app.exports.pdf.documents import (
    FrontMatter,
    LetterText,
    RecipientBlock,
    StatementBlock,
    Summary,
)
from app.exports.pdf.isolation import RenderLimitExceeded, run_limited
from app.exports.pdf.models import PdfExportChunk, PdfExportState
from app.exports.pdf.plan import chunk_entries, key, plan_list, read_batches
from app.exports.pdf.service import (
    export_progress,
    files_for,
    find_file_by_code,
    normal_code,
    start_export,
)
from app.jobs.worker import JobWorker
from app.letters.models import Letter, Recipient
from app.mail.sender import SMTPSender
from app.signatures import moderation
from app.signatures.models import Signature, SignatureState, Visibility
from tests.helpers import add_signature, update_letter

CYRILLIC = "Алексей Навальный-Тестов"
ARABIC = "فاطمة الزهراء"


def pdf_settings(settings: Settings, chunk_size: int = 4000) -> Settings:
    return settings.model_copy(update={"pdf_chunk_size": chunk_size})


def run_export(
    engine: Engine, settings: Settings, *, slug: str, recipients: list[int] | None = None
) -> int:
    with open_session(engine, write=True) as session:
        letter_id = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        assert letter_id is not None
        export_id = start_export(
            session, letter_id=letter_id, recipient_ids=recipients, requested_by=None
        )
        session.commit()
    worker = JobWorker(engine=engine, settings=settings, sender=SMTPSender(settings), recurring=())
    worker.run_until_idle(max_passes=500)
    with open_session(engine) as session:
        progress = export_progress(session, export_id)
    assert progress.state is PdfExportState.DONE, progress.error
    return export_id


def pages_text(path: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages]


def recipient_id(engine: Engine, name: str) -> int:
    with open_session(engine) as session:
        found = session.exec(select(Recipient.id).where(Recipient.name == name)).one()
        assert found is not None
        return found


def test_the_letter_names_who_chose_it_and_counts_everyone(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    add_signature(
        engine, letter_slug, name=CYRILLIC, email="a@example.org", city="Москва", country="RU"
    )
    add_signature(
        engine,
        letter_slug,
        name=ARABIC,
        email="b@example.org",
        visibility=Visibility.LETTER_ONLY,
        city="القاهرة",
        country="EG",
    )
    add_signature(
        engine,
        letter_slug,
        name="Anna Counted",
        email="c@example.org",
        visibility=Visibility.COUNTED_ONLY,
        country="DE",
    )
    # As a paper signature is entered: confirmed, counted, not named.
    add_signature(
        engine,
        letter_slug,
        name="Paper Signer",
        email="p@example.org",
        visibility=Visibility.COUNTED_ONLY,
    )
    withdrawn = add_signature(
        engine, letter_slug, name="Wanda Withdrawn", email="w@example.org", country="FR"
    )
    invalid = add_signature(
        engine, letter_slug, name="Ivan Invalidated", email="i@example.org", country="PL"
    )
    hidden = add_signature(
        engine, letter_slug, name="Hugo Hidden", email="h@example.org", country="IT"
    )
    add_signature(
        engine, letter_slug, name="Pat Pending", email="q@example.org", state=SignatureState.PENDING
    )
    with open_session(engine, write=True) as session:
        # Name kept on purpose: the state alone must keep it out.
        session.execute(
            update(Signature)
            .where(col(Signature.id) == withdrawn.id)
            .values(state=SignatureState.WITHDRAWN, withdrawn_at=utcnow())
        )
        moderation.invalidate(
            session, letter_id=invalid.letter_id, signature_id=invalid.id or 0, reason="fake"
        )
        moderation.set_hidden(
            session, letter_id=hidden.letter_id, signature_id=hidden.id or 0, hidden=True
        )
        session.commit()

    # An English-speaking recipient (translated files: the test further down).
    trump = recipient_id(engine, "Donald Trump")
    export_id = run_export(engine, pdf_settings(settings), slug=letter_slug, recipients=[trump])
    with open_session(engine) as session:
        [file] = files_for(session, export_id)
        progress = export_progress(session, export_id)
    path = file.absolute_path(settings)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == file.sha256 and len(data) == file.size
    pages = pages_text(path)
    text = " ".join(pages)
    assert "Donald Trump" in pages[0] and "Washington, DC 20500" in pages[0]
    assert "1600 Pennsylvania Avenue NW" in pages[0]
    assert "We are writing to you from Russian prisons" in text
    assert "Alexei Gorinov" in text  # a first signatory
    assert "Dmitry Muratov" in text and "Nobel Peace Prize laureate" in text  # a statement
    assert "urging leaders in Russia" in text
    assert CYRILLIC in text
    assert ARABIC in text or ARABIC[::-1] in text
    # Confirmed: the two named, the one counted only, the hidden one and the paper one.
    assert progress.signature_count == 5
    assert re.search(r"Signed by 5 people from 4 countries between", text), text
    assert (
        "3 people signed this letter and asked to be counted" in text
        or "Besides the 2 people named above, 3 people" in text
    )
    for absent in (
        "Anna Counted",
        "Paper Signer",
        "Wanda Withdrawn",
        "Ivan Invalidated",
        "Hugo Hidden",
        "Pat Pending",
    ):
        assert absent not in text
    assert file.verification_code in pages[0] and file.verification_code in pages[-1]
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page

    reader = PdfReader(path)
    assert (
        reader.metadata is not None
        and reader.metadata.title
        == "All for all: free the political prisoners and civilian hostages in any peace deal"
    )
    assert reader.trailer["/Root"]["/Lang"] == "en"
    titles = [item.title for item in reader.outline]  # type: ignore[union-attr]
    assert titles[1:] == ["Signatories", "Verification"] and titles[0].startswith("All for all")

    with open_session(engine) as session:
        loose = file.verification_code.lower().replace("-", " ")
        assert find_file_by_code(session, slug=letter_slug, code=loose) == file
        assert (
            find_file_by_code(session, slug="another-letter", code=file.verification_code) is None
        )
        assert find_file_by_code(session, slug=letter_slug, code="0000-0000-0000") is None


def test_page_numbers_run_on_across_chunks(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    for index in range(45):
        add_signature(
            engine,
            letter_slug,
            name=f"Signer Number{index:03d}",
            email=f"s{index}@example.org",
            city="Lyon",
            country="FR",
        )
    settings = pdf_settings(settings, chunk_size=10)
    export_id = run_export(
        engine, settings, slug=letter_slug, recipients=[recipient_id(engine, "Donald Trump")]
    )
    with open_session(engine) as session:
        [file] = files_for(session, export_id)
        chunks = session.exec(
            select(PdfExportChunk).where(PdfExportChunk.export_id == export_id)
        ).all()
    assert len(chunks) == 5
    pages = pages_text(file.absolute_path(settings))
    total = len(pages)
    assert total == file.pages
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
    text = " ".join(pages)
    found = [int(match) for match in re.findall(r"Signer Number(\d{3})", text)]
    assert found == list(range(45))  # every name once, in the order they signed


def test_a_withdrawal_re_renders_only_its_chunk(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    signers = [
        add_signature(
            engine, letter_slug, name=f"Person Number{index:03d}", email=f"p{index}@example.org"
        )
        for index in range(40)
    ]
    settings = pdf_settings(settings, chunk_size=10)
    recipients = [recipient_id(engine, "António Costa")]
    first = run_export(engine, settings, slug=letter_slug, recipients=recipients)
    # One name in the third chunk goes; ten new signatures make a new tail chunk.
    gone = signers[25]
    with open_session(engine, write=True) as session:
        moderation.invalidate(
            session, letter_id=gone.letter_id, signature_id=gone.id or 0, reason="duplicate"
        )
        session.commit()
    for index in range(40, 50):
        add_signature(
            engine, letter_slug, name=f"Person Number{index:03d}", email=f"p{index}@example.org"
        )
    second = run_export(engine, settings, slug=letter_slug, recipients=recipients)

    with open_session(engine) as session:

        def chunks(export_id: int) -> list[PdfExportChunk]:
            query = select(PdfExportChunk).where(PdfExportChunk.export_id == export_id)
            return list(session.exec(query.order_by(col(PdfExportChunk.position))))

        before, after = chunks(first), chunks(second)
        [file] = files_for(session, second)
    assert [chunk.rendered for chunk in before] == [True] * 4
    assert [chunk.rendered for chunk in after] == [False, False, True, False, True]
    assert [a.content_hash for a in after[:2]] == [b.content_hash for b in before[:2]]
    assert after[3].content_hash == before[3].content_hash
    text = " ".join(pages_text(file.absolute_path(settings)))
    assert (
        "Person Number025" not in text and "Person Number024" in text and "Person Number049" in text
    )


class CountingHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        CountingHandler.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bait_server() -> object:
    CountingHandler.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_hostile_letter_body_fetches_nothing(
    engine: Engine, settings: Settings, letter_slug: str, bait_server: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f"Dear reader.\n\n![remote]({bait_server}/markdown.png)\n\n"
        f'<img src="{bait_server}/raw.png"> <img src="file://{secret}">\n\n'
        f"<style>@import url({bait_server}/style.css); body {{ color: red }}</style>\n\n"
        f'<link rel="stylesheet" href="{bait_server}/link.css">\n\n'
        f'<iframe src="file://{secret}"></iframe> The end.'
    )
    update_letter(engine, letter_slug, body_markdown=body)
    export_id = run_export(
        engine,
        pdf_settings(settings),
        slug=letter_slug,
        recipients=[recipient_id(engine, "Donald Trump")],
    )
    with open_session(engine) as session:
        [file] = files_for(session, export_id)
    text = " ".join(pages_text(file.absolute_path(settings)))
    assert CountingHandler.hits == []
    assert "TOP-SECRET-CONTENT" not in text
    assert "Dear reader." in text and "The end." in text
    assert '<img src="' in text  # shown as the text it is, never run as HTML


def test_weasyprint_is_given_a_fetcher_that_refuses_everything_but_our_assets(
    bait_server: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg"><text>SECRET</text></svg>')
    # Even HTML that reached WeasyPrint unescaped could not reach out.
    html = (
        f'<html><head><link rel="stylesheet" href="{bait_server}/a.css"></head><body>'
        f'<img src="{bait_server}/b.png"><img src="file://{secret}">'
        f'<div style="background: url({bait_server}/c.png)">x</div></body></html>'
    )
    data = render._html_to_pdf(html)
    assert CountingHandler.hits == []
    assert b"SECRET" not in data


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ABCD-EFGH-JKMN", "ABCD-EFGH-JKMN"),
        ("abcd efgh jkmn", "ABCD-EFGH-JKMN"),
        ("abcdefghjkmn", "ABCD-EFGH-JKMN"),
        ("O1IL-0000-0000", "0111-0000-0000"),
        ("ABCD-EFGH-JKM", None),
        ("ABCD-EFGH-JKMU", None),
        ("../../etc/passwd", None),
        ("\uff21\uff22\uff23\uff24-EFGH-JKMN", None),
    ],
)
def test_verification_codes_as_typed(typed: str, stored: str | None) -> None:
    assert normal_code(typed) == stored


def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def greedy(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def test_rendering_is_stopped_past_its_time_or_memory() -> None:
    with pytest.raises(RenderLimitExceeded, match="longer than"):
        run_limited(sleepy, 10, seconds=1, memory_mb=1024)
    with pytest.raises(RenderLimitExceeded, match="memory"):
        run_limited(greedy, 3000, seconds=60, memory_mb=1024)
    # A fresh rendering process takes over after each.
    assert run_limited(sleepy, 0, seconds=60, memory_mb=1024) == "woke"
    assert run_limited(greedy, 100, seconds=60, memory_mb=1024) == 100 * 2**20


def test_supporting_statements_are_quoted_with_who_said_them() -> None:
    front = FrontMatter(
        site_name="Undersigned",
        publisher_name="Free Them",
        publisher_contact="",
        letter=LetterText(language="en", title="A title", summary="", body_markdown="The text."),
        recipient=RecipientBlock(
            name="A Minister", title="", organisation="", postal_lines=["1 Road"], language="en"
        ),
        first_signatories=[],
        statements=[StatementBlock(name="Jane Writer", description="novelist", body="Free them.")],
        summary=Summary(0, 0, 0, None, None),
        list_language="en",
        exported_at=utcnow(),
        verification_code="ABCD-EFGH-JKMN",
        verify_url="https://example.org/v",
    )
    text = " ".join(
        (PdfReader(io.BytesIO(render.render_front(front))).pages[0].extract_text()).split()
    )
    assert "Supporting statements" in text.title() or "SUPPORTING STATEMENTS" in text
    assert "Free them." in text and "Jane Writer" in text and "novelist" in text


def test_the_list_is_read_in_order_across_batches_with_equal_times(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    """Keyset reading by (time, id), times bound as the driver stores them: batches cut in the
    middle of signatures confirmed at the same instant lose and repeat no one, and a chunk's
    edges read back as the times they were."""
    instants = [utcnow().replace(microsecond=123456) + timedelta(seconds=n // 4) for n in range(23)]
    signers = [
        add_signature(
            engine, letter_slug, name=f"Tied {n:02d}", email=f"t{n}@example.org", confirmed_at=when
        )
        for n, when in enumerate(instants)
    ]
    expected = [s.id for s in sorted(signers, key=lambda s: (s.confirmed_at, s.id))]
    with open_session(engine) as session:
        letter_id = signers[0].letter_id
        for batch in (1, 3, 4, 5, 100):
            batches = read_batches(session, letter_id=letter_id, batch=batch)
            ids = [row[1] for rows in batches for row in rows]
            assert ids == expected, batch
        plan = plan_list(session, letter_id=letter_id, chunk_size=5, language="en")
        assert [chunk.names for chunk in plan.chunks] == [5, 5, 5, 5, 3]
        dialect = session.connection().dialect
        for chunk in plan.chunks:
            assert chunk.first[0].tzinfo is not None and chunk.first[0].microsecond == 123456
            names = chunk_entries(session, letter_id=letter_id, first=chunk.first, last=chunk.last)
            assert len(names) == chunk.names
        [first_row] = next(read_batches(session, letter_id=letter_id, batch=1))
        assert key(dialect, first_row) == (instants[0], expected[0])
        assert plan.first_signed_at == instants[0] and plan.last_signed_at == instants[-1]


def test_each_recipient_reads_the_letter_in_their_language_when_it_is_translated(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    """The demo letter is translated into Russian and Ukrainian: the Kremlin's file and Kyiv's
    carry those texts, with their titles in the metadata; the EU's keeps the original."""
    add_signature(engine, letter_slug, name=CYRILLIC, email="a@example.org", country="RU")
    names = ["Vladimir Putin", "Volodymyr Zelensky", "António Costa"]
    export_id = run_export(
        engine, settings, slug=letter_slug, recipients=[recipient_id(engine, n) for n in names]
    )
    with open_session(engine) as session:
        files = {file.recipient_name: file for file in files_for(session, export_id)}
    expected = {
        "Vladimir Putin": ("Всех на всех", "ru"),  # noqa: RUF001
        "Volodymyr Zelensky": ("Всіх на всіх", "uk"),  # noqa: RUF001
        "António Costa": ("All for all", "en"),
    }
    for name, (title, language) in expected.items():
        path = files[name].absolute_path(settings)
        assert title in " ".join(pages_text(path)[:2]), name
        if name == "Vladimir Putin":  # the body too, under the recipient's own address
            front = " ".join(pages_text(path)[:2])
            assert "Kremlin" in front and "103132 Moscow" in front
            assert "We are writing to you from Russian prisons" not in front
        reader = PdfReader(path)
        assert reader.metadata is not None and reader.metadata.title.startswith(title)
        assert reader.trailer["/Root"]["/Lang"] == language


def test_a_long_title_gives_way_in_the_footer_and_the_code_never_does() -> None:
    """The footer keeps room on the right for the stamped page number: a title too long for
    the line is cut short with an ellipsis, the verification code stays whole."""
    title = "Всех на всех: освободить политзаключённых " * 4  # noqa: RUF001
    data = render.render_footer(title=title, code="ABCD-EFGH-JKLM", language="ru")
    placed: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *rest: object) -> None:
        if text.strip():  # where the run starts on the page, in points
            placed.append((text, cm[0] * tm[4] + cm[4]))

    PdfReader(io.BytesIO(data)).pages[0].extract_text(visitor_text=visit)
    [(run, start)] = [(text, x) for text, x in placed if "ABCD-EFGH-JKLM" in text]
    end = start + pdfmetrics.stringWidth(run, merge._stamp_font(), 7.5)
    # The number is stamped right-aligned at the text block's edge, in the 42 mm kept free.
    number_area = (210 - 22 - 42) * 72 / 25.4
    assert end < number_area + 3, placed
