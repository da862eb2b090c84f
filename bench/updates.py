"""Sending an update at scale: the fan-out's time and peak Python memory, then mails per second.

    .venv/bin/python bench/updates.py [--rows 200000] [--mails 5000] [--database-url postgresql://...]

Fills a throwaway SQLite database (or the empty database given) with ``--rows`` confirmed
signatures of one letter, every other one agreeing to be contacted, signed in English or
Russian. An update with a Russian version is sent: the fan-out (the same function its job
runs, one page of ``update_fanout_batch`` signers per transaction) makes a delivery row and a
mail job per consenting signer; peak memory is tracemalloc's, so it should stay flat as --rows
grows. Then a worker runs ``--mails`` of the mail jobs (decrypt, choose the language, render
text and HTML, build the MIME message) into a sender that keeps nothing: the app's own cost
per mail, without an SMTP server's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from sqlalchemy import insert
from sqlmodel import select

from app.cli import alembic_config
from app.db import make_engine, open_session, utcnow
from app.jobs.worker import JobWorker
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.letters.models import Letter
from app.mail.sender import build_message
from app.mail.service import RenderedMail
from app.signatures.models import Signature, SignatureState
from app.signatures.service import new_public_id
from app.updates import emails, service
from app.updates.forms import parse_update_form
from tests.live import throwaway_settings


def fill(url: str, data_dir: Path, rows: int):  # type: ignore[no-untyped-def]
    settings = throwaway_settings(url, data_dir)
    engine = make_engine(url)
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
        letter_id = session.exec(select(Letter.id).where(Letter.slug == DEMO_SLUG)).one()
    encrypted = settings.keyring().encrypt_email("someone@example.org")
    table = Signature.__table__  # type: ignore[attr-defined]
    now = utcnow()
    batch = []
    for n in range(rows):
        batch.append(
            {
                "public_id": new_public_id(),
                "letter_id": letter_id,
                "name": f"Signer Number {n}",
                "email_encrypted": encrypted,
                "email_hash": f"{n:064x}",
                "email_domain_hash": "d" * 64,
                "visibility": "counted_only",
                "state": SignatureState.CONFIRMED.value,
                "may_contact": n % 2 == 0,
                "language": "ru" if n % 4 == 0 else "en",
                "mails_in_window": 1,
                "created_at": now,
                "confirmed_at": now,
            }
        )
        if len(batch) == 10_000 or n == rows - 1:
            with open_session(engine, write=True) as session:
                session.execute(insert(table), batch)
                session.commit()
            batch = []
    engine.dispose()
    return settings, letter_id


class Discard:
    """A mail connection that builds each message, as SMTP would, then drops it."""

    def __init__(self, settings: object) -> None:
        self.settings = settings
        self.sent = 0

    def send(self, mail: RenderedMail) -> None:
        build_message(mail, self.settings).as_bytes()  # type: ignore[arg-type]
        self.sent += 1


class DiscardSender:
    def __init__(self, settings: object) -> None:
        self.connection = Discard(settings)

    @contextmanager
    def connect(self) -> Iterator[Discard]:
        yield self.connection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--mails", type=int, default=5_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="undersigned-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        command.upgrade(alembic_config(url), "head")
        started = time.perf_counter()
        settings, letter_id = fill(url, Path(tmp), args.rows)
        print(f"filled {args.rows:,} signatures in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        with open_session(engine, write=True) as session:
            form = parse_update_form(
                {"subject": "Delivered", "body_markdown": "It is *done*.", "language": "en"}
            )
            update_id = service.create_update(
                session, letter_id=letter_id, organiser_id=None, form=form
            )
            form.values |= {"language": "ru", "subject": "Доставлено", "body_markdown": "Да."}
            service.add_version(session, letter_id=letter_id, update_id=update_id, form=form)
            planned = service.start_sending(session, letter_id=letter_id, update_id=update_id)
            session.commit()

        tracemalloc.start()
        started = time.perf_counter()
        pages = 0
        while True:
            with open_session(engine, write=True) as session:
                worked = service.fan_out(
                    session, update_id=update_id, batch=settings.update_fanout_batch
                )
                session.commit()
            if not worked:
                break
            pages += 1
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"fan-out: {planned:,} recipients in {pages} pages of"
            f" {settings.update_fanout_batch}, {elapsed:.1f} s"
            f" ({(planned or 0) / elapsed:,.0f} signers/s), peak Python memory {peak / 1e6:.1f} MB"
        )

        sender = DiscardSender(settings)
        worker = JobWorker(
            engine=engine,
            settings=settings,
            sender=sender,  # type: ignore[arg-type]
            handlers={service.MAIL_UPDATE: emails.send_update_mail},
            recurring=(),
        )
        started = time.perf_counter()
        while sender.connection.sent < args.mails:
            if not worker.run_due(limit=min(200, args.mails - sender.connection.sent)):
                break
        elapsed = time.perf_counter() - started
        sent = sender.connection.sent
        print(
            f"mail jobs: {sent:,} rendered and built in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
