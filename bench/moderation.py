"""Moderation queries on a letter with many signatures, on SQLite and PostgreSQL.

    .venv/bin/python bench/moderation.py [--rows 100000] [--repeat 5]

Times (median of --repeat) the first list page, a page deep in the keyset, searches by name,
domain and country, and a bulk rule's preview count. Rows are inserted directly (addresses
are a placeholder: moderation never decrypts them). Never run as a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from sqlalchemy import insert
from sqlmodel import select

from app.cli import alembic_config
from app.db import make_engine, open_session, utcnow
from app.letters.demo import create_demo_letter
from app.letters.models import Letter
from app.signatures import moderation
from app.signatures.models import RuleKind, Signature, SignatureState
from tests.live import throwaway_settings
from tests.pg import bench_databases

State = SignatureState
DOMAINS = ("mail.example", "post.example", "uni.example", "rare.example")
COUNTRIES = ("UA", "RU", "GE", "LT", "DE", "FR")


def seed(url: str, rows: int, keyring: object) -> int:
    engine = make_engine(url, connections=2)
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
        letter_id = session.exec(select(Letter.id)).one()
        assert letter_id is not None
    hashes = [keyring.domain_hash(letter_id=letter_id, domain=d) for d in DOMAINS]  # type: ignore[attr-defined]
    start = utcnow() - timedelta(days=30)
    table = Signature.__table__  # type: ignore[attr-defined]
    batch = []
    for n in range(rows):
        batch.append(
            {
                "public_id": f"p{n:031}",
                "letter_id": letter_id,
                "name": f"Signer Number{n}",
                "affiliation": "",
                "city": "City",
                "country": COUNTRIES[n % len(COUNTRIES)],
                "email_encrypted": "x",
                "email_hash": f"h{n}",
                # One in a thousand at the rare domain.
                "email_domain_hash": hashes[3] if n % 1000 == 0 else hashes[n % 3],
                "visibility": "public",
                "state": (State.PENDING if n % 10 == 0 else State.CONFIRMED).value,
                "mails_in_window": 0,
                "invalidated_reason": "",
                "created_at": start + timedelta(seconds=n * 20),
                "confirmed_at": None if n % 10 == 0 else start + timedelta(seconds=n * 20 + 5),
            }
        )
        if len(batch) == 10_000 or n == rows - 1:
            with engine.begin() as connection:
                connection.execute(insert(table), batch)
            batch = []
    if url.startswith("postgresql"):
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE signatures")
    engine.dispose()
    return letter_id


def timed(label: str, repeat: int, call: Callable[[], object]) -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    print(f"  {label:<44} {statistics.median(times):8.1f} ms  (max {max(times):.1f})")


def run(label: str, url: str, workdir: Path, rows: int, repeat: int) -> None:
    command.upgrade(alembic_config(url), "head")
    settings = throwaway_settings(url, workdir / label)
    keyring = settings.keyring()
    started = time.perf_counter()
    letter_id = seed(url, rows, keyring)
    print(f"{label}: {rows:,} signatures seeded in {time.perf_counter() - started:.1f} s")
    engine = make_engine(url, connections=2)
    with open_session(engine) as session:
        F = moderation.SignatureFilter  # noqa: N806

        def page(wanted: moderation.SignatureFilter, after: int | None = None) -> object:
            return moderation.list_signatures(
                session, letter_id=letter_id, wanted=wanted, keyring=keyring, after=after
            )

        timed("first page", repeat, lambda: page(F()))
        timed("page deep in the keyset (after = rows/2)", repeat, lambda: page(F(), rows // 2))
        timed("name contains 'Number4242' (rare)", repeat, lambda: page(F(name="Number4242")))
        timed("name contains 'Number1' (common)", repeat, lambda: page(F(name="Number1")))
        timed("domain rare.example (1 in 1000)", repeat, lambda: page(F(domain="rare.example")))
        timed(
            "country UA, confirmed",
            repeat,
            lambda: page(F(country="UA", state=SignatureState.CONFIRMED)),
        )
        rule = moderation.BulkRule(kind=RuleKind.DOMAIN, domain="mail.example", reason="x")
        timed(
            "bulk preview: domain mail.example (1 in 3)",
            repeat,
            lambda: moderation.preview_rule(
                session, letter_id=letter_id, rule=rule, keyring=keyring
            ),
        )
    with open_session(engine, write=True) as session:
        started = time.perf_counter()
        rule_id, count = moderation.apply_rule(
            session, letter_id=letter_id, rule=rule, organiser_id=None, keyring=keyring
        )
        session.commit()
        applied = time.perf_counter() - started
        started = time.perf_counter()
        moderation.reverse_rule(session, letter_id=letter_id, rule_id=rule_id)
        session.commit()
        print(
            f"  bulk rule: {count:,} invalidated in {applied * 1000:.0f} ms,"
            f" reversed in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for label, url, workdir in bench_databases("moderation"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        run(label, url, workdir, args.rows, args.repeat)


if __name__ == "__main__":
    main()
