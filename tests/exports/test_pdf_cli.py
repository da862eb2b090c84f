"""``undersigned demo --signatures N`` and ``undersigned export-pdf``, as a user runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import col, select

from app.cli import main
from app.config import Settings
from app.db import make_engine, open_session
from app.exports.pdf.local import run_export_here
from app.exports.pdf.models import PdfExportChunk, PdfExportState
from app.exports.pdf.service import files_for, start_export
from app.exports.pdf.synthetic import add_synthetic_signatures
from app.letters.models import Letter
from app.signatures.models import Signature, SignatureState, Visibility


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("UNDERSIGNED_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("UNDERSIGNED_DATABASE_URL", database_url)
    monkeypatch.setenv("UNDERSIGNED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UNDERSIGNED_PDF_CHUNK_SIZE", "50")
    return tmp_path


def test_demo_signatures_then_export_every_recipient(
    cli_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--signatures", "300"]) == 0
    assert "Added 300 synthetic confirmed signatures" in capsys.readouterr().out
    engine = make_engine(database_url)
    with open_session(engine) as session:
        rows = session.exec(select(Signature)).all()
    assert len(rows) == 300 and {row.state for row in rows} == {SignatureState.CONFIRMED}
    assert {row.visibility for row in rows} == set(Visibility)
    names = " ".join(row.name for row in rows)
    for letter in ("и", "م", "ר", "λ"):  # Cyrillic, Arabic, Hebrew, Greek
        assert letter in names
    assert all(row.email_hash is None and row.email_encrypted is None for row in rows)
    # More of them arrive after the others, as real signatures do.
    assert main(["demo", "--signatures", "20"]) == 0
    with open_session(engine) as session:
        order = session.exec(
            select(Signature.id).order_by(col(Signature.confirmed_at), col(Signature.id))
        ).all()
    assert list(order) == sorted(order) and len(order) == 320
    with open_session(engine) as session:
        query = select(Signature.id).where(col(Signature.visibility) != Visibility.COUNTED_ONLY)
        named = len(session.exec(query).all())
    engine.dispose()

    out = cli_env / "letters"
    assert main(["export-pdf", "all-for-all", "--all", "--out", str(out), "--processes", "2"]) == 0
    printed = capsys.readouterr()
    files = sorted(out.glob("*.pdf"))
    assert [path.name.split("-")[0] for path in files] == [
        "antonio",
        "donald",
        "ursula",
        "vladimir",
        "volodymyr",
    ]
    assert "100%" in printed.err and "done" in printed.err  # the progress bar's last line
    text = " ".join(page.extract_text() or "" for page in PdfReader(files[0]).pages)
    assert "Signed by 320 people" in " ".join(text.split())
    assert f"Besides the {named} people named above" in " ".join(text.split())


def test_export_pdf_says_what_is_wrong(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["export-pdf", "no-such-letter", "--all", "--out", str(cli_env / "x")]) == 1
    assert "no letter has the slug 'no-such-letter'" in capsys.readouterr().err
    assert main(["export-pdf", "all-for-all", "--out", str(cli_env / "x.pdf")]) == 2
    err = capsys.readouterr().err
    assert "choose one with --recipient ID" in err and "Vladimir Putin" in err
    assert (
        main(["export-pdf", "all-for-all", "--recipient", "999", "--out", str(cli_env / "x.pdf")])
        == 1
    )
    assert "Not a recipient of this letter: 999" in capsys.readouterr().err
    assert not (cli_env / "x.pdf").exists()


def test_two_helper_processes_share_one_export(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    with open_session(engine, write=True) as session:
        letter_id = session.exec(select(Letter.id).where(Letter.slug == letter_slug)).one()
        assert letter_id is not None
    add_synthetic_signatures(engine, slug=letter_slug, count=200, seed=7)
    settings = settings.model_copy(update={"pdf_chunk_size": 10})
    with open_session(engine, write=True) as session:
        export_id = start_export(
            session, letter_id=letter_id, recipient_ids=None, requested_by=None
        )
        session.commit()
    progress = run_export_here(settings, export_id=export_id, processes=2, poll_seconds=0.05)
    assert progress.state is PdfExportState.DONE, progress.error
    with open_session(engine) as session:
        chunks = session.exec(
            select(PdfExportChunk).where(PdfExportChunk.export_id == export_id)
        ).all()
        files = files_for(session, export_id)
    assert len(chunks) == 20 and all(chunk.rendered for chunk in chunks)
    assert len({chunk.rendered_by for chunk in chunks}) == 2  # each helper took its share
    assert len(files) == 5 and all(file.finished_at for file in files)
