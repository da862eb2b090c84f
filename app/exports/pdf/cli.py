"""``undersigned export-pdf`` and ``undersigned demo --signatures N``."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import unicodedata
from pathlib import Path
from typing import TextIO

from sqlmodel import col, select

from app.config import Settings
from app.db import make_engine, open_session
from app.exports.pdf.local import run_export_here
from app.exports.pdf.service import ExportProgress, ExportRefused, files_for, start_export
from app.letters.models import Letter, Recipient


class ProgressBar:
    """A bar on a terminal (redrawn in place), a line every few seconds elsewhere."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.last_line = 0.0
        self.started = time.monotonic()

    def __call__(self, progress: ExportProgress) -> None:
        filled = progress.percent * self.width // 100
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.started
        text = (
            f"[{bar}] {progress.percent:3d}%  {progress.state.value:<9} "
            f"chunks {progress.chunks_done}/{progress.chunks_total}  "
            f"pages {progress.pages_done:,}/{progress.pages_total:,}  "
            f"files {progress.files_done}/{progress.files_total}  {elapsed:5.1f} s"
        )
        if self.tty:
            self.stream.write("\r" + text + ("\n" if progress.finished else ""))
            self.stream.flush()
        elif progress.finished or time.monotonic() - self.last_line > 5:
            self.last_line = time.monotonic()
            print(text, file=self.stream, flush=True)


def file_name(recipient: str, code: str) -> str:
    """A portable file name: the recipient's name folded to ASCII, then the code."""
    folded = unicodedata.normalize("NFKD", recipient).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-").lower()[:60]
    return f"{slug or 'recipient'}-{code}.pdf"


def export_pdf(
    settings: Settings,
    *,
    slug: str,
    recipient_ids: list[int] | None,
    everyone: bool,
    out: str,
    processes: int | None,
) -> int:
    engine = make_engine(settings.resolved_database_url())
    try:
        with open_session(engine, write=True) as session:
            letter_id = session.exec(select(Letter.id).where(Letter.slug == slug)).first()
            if letter_id is None:
                print(f"undersigned: no letter has the slug {slug!r}", file=sys.stderr)
                return 1
            if not everyone and not recipient_ids:
                ids = list(
                    session.exec(select(Recipient.id).where(Recipient.letter_id == letter_id))
                )
                if len(ids) != 1:
                    print(
                        "undersigned: the letter has several recipients: "
                        "choose one with --recipient ID, or all with --all",
                        file=sys.stderr,
                    )
                    _list_recipients(settings, letter_id)
                    return 2
                recipient_ids = [i for i in ids if i is not None]
            try:
                export_id = start_export(
                    session,
                    letter_id=letter_id,
                    recipient_ids=None if everyone else recipient_ids,
                    requested_by=None,
                )
            except ExportRefused as exc:
                print(f"undersigned: {exc}", file=sys.stderr)
                return 1
            session.commit()
        helpers = (os.cpu_count() or 1) if processes is None else processes
        progress = run_export_here(
            settings, export_id=export_id, processes=helpers, on_progress=ProgressBar()
        )
        if progress.error or not progress.finished or progress.state.value != "done":
            print(f"undersigned: the export failed: {progress.error}", file=sys.stderr)
            return 1
        with open_session(engine) as session:
            files = files_for(session, export_id)
    finally:
        engine.dispose()
    return _copy_out(settings, files, out=Path(out), folder=everyone or len(files) > 1)


def _list_recipients(settings: Settings, letter_id: int) -> None:
    engine = make_engine(settings.resolved_database_url())
    with open_session(engine) as session:
        query = select(Recipient).where(Recipient.letter_id == letter_id)
        for recipient in session.exec(query.order_by(col(Recipient.position))):
            print(f"  --recipient {recipient.id}: {recipient.name}", file=sys.stderr)
    engine.dispose()


def _copy_out(settings: Settings, files: list, *, out: Path, folder: bool) -> int:  # type: ignore[type-arg]
    folder = folder or out.is_dir()  # one file, into an existing folder
    if folder:
        out.mkdir(parents=True, exist_ok=True)
    for info in files:
        target = out / file_name(info.recipient_name, info.verification_code) if folder else out
        shutil.copyfile(info.absolute_path(settings), target)
        print(
            f"{target}  {info.pages:,} pages  {info.recipient_name}  code {info.verification_code}"
            f"  sha256 {info.sha256}"
        )
    return 0


def fill_demo(settings: Settings, *, count: int) -> None:
    from app.exports.pdf.synthetic import add_synthetic_signatures
    from app.letters.demo import DEMO_SLUG

    engine = make_engine(settings.resolved_database_url())
    started = time.monotonic()
    bar = sys.stderr.isatty()

    def progress(done: int) -> None:
        if bar:
            sys.stderr.write(f"\r{done:,} of {count:,} signatures")
            sys.stderr.flush()

    try:
        add_synthetic_signatures(engine, slug=DEMO_SLUG, count=count, progress=progress)
    finally:
        engine.dispose()
    if bar:
        sys.stderr.write("\n")
    print(f"Added {count:,} synthetic confirmed signatures in {time.monotonic() - started:.1f} s.")
