"""The CSV export and the dashboard at scale: time and peak Python memory.

    .venv/bin/python bench/export.py [--rows 200000] [--database-url postgresql://...]

Fills a throwaway SQLite database (or the empty database given) with ``--rows`` confirmed
signatures of one letter spread over 90 days, one in ten agreeing to be contacted (their
addresses are decrypted for the export), then streams the whole CSV through the same
generator the route uses, and draws the dashboard's figures. Peak memory is tracemalloc's:
what Python allocated, so a streamed export should stay flat as --rows grows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from sqlalchemy import insert

from app.cli import alembic_config
from app.db import make_engine, open_session, utcnow
from app.exports.csv import csv_chunks
from app.letters.demo import create_demo_letter
from app.signatures.models import Signature, SignatureState
from app.signatures.reports import dashboard, export_batches
from app.signatures.service import new_public_id
from tests.live import throwaway_settings

COUNTRIES = ["FR", "DE", "GE", "UA", "", "IR", "TR", "RU", "GB", "US"]


def fill(database_url: str, data_dir: Path, rows: int) -> tuple[object, int]:
    settings = throwaway_settings(database_url, data_dir)
    keyring = settings.keyring()
    engine = make_engine(database_url)
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
        letter_id = session.exec(__import__("sqlmodel").select(Signature.letter_id)).first() or 1
    now = utcnow()
    encrypted = keyring.encrypt_email("someone@example.org")  # one cipher text is enough here
    table = Signature.__table__  # type: ignore[attr-defined]
    batch = []
    for n in range(rows):
        when = now - timedelta(minutes=(n * 647) % (90 * 24 * 60))
        batch.append(
            {
                "public_id": new_public_id(),
                "letter_id": letter_id,
                "name": f"Signer Number {n}",
                "affiliation": "University of Somewhere" if n % 3 == 0 else "",
                "city": "Tbilisi" if n % 2 else "",
                "country": COUNTRIES[n % len(COUNTRIES)],
                "email_encrypted": encrypted,
                "email_hash": f"{n:064x}",
                "email_domain_hash": "d" * 64,
                "visibility": ["public", "letter_only", "counted_only"][n % 3],
                "state": SignatureState.CONFIRMED.value,
                "may_contact": n % 10 == 0,
                "mails_in_window": 1,
                "created_at": when,
                "confirmed_at": when,
            }
        )
        if len(batch) == 10_000:
            with open_session(engine, write=True) as session:
                session.execute(insert(table), batch)
                session.commit()
            batch = []
    if batch:
        with open_session(engine, write=True) as session:
            session.execute(insert(table), batch)
            session.commit()
    return settings, letter_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="undersigned-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        command.upgrade(alembic_config(url), "head")
        started = time.perf_counter()
        settings, letter_id = fill(url, Path(tmp), args.rows)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        keyring = settings.keyring()  # type: ignore[attr-defined]

        tracemalloc.start()
        started = time.perf_counter()
        size = 0
        batches = export_batches(
            engine, letter_id=letter_id, states=[SignatureState.CONFIRMED], keyring=keyring
        )
        for chunk in csv_chunks(batches):
            size += len(chunk)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"CSV export: {size / 1e6:.1f} MB in {elapsed:.2f} s"
            f" ({args.rows / elapsed:,.0f} rows/s), peak Python memory {peak / 1e6:.1f} MB"
        )

        started = time.perf_counter()
        with open_session(engine) as session:
            figures = dashboard(session, letter_id=letter_id)
        print(
            f"dashboard: {figures.confirmed:,} confirmed, {len(figures.by_country)} countries,"
            f" in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
