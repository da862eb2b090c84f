"""Importing a CSV file of offline signatures, on SQLite and PostgreSQL: rows per second and
peak memory.

    .venv/bin/python bench/import.py [--rows 100000]

Builds a file of ``--rows`` signatures (names in several scripts, repeated affiliations and
cities, every visibility), then, on each engine:
- the service path: check every row, then store the clean file in one transaction (SQLite:
  executemany in batches; PostgreSQL: COPY), committed;
- the whole request: the same file uploaded to /organise/letters/ID/offline/import by a
  signed-in organiser through the app (multipart parsing, checks, import, commit, redirect).
Peak memory is tracemalloc's (what Python allocated), measured in a separate run of the
service path, since tracing slows it down. Never run as a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from sqlalchemy import func
from sqlmodel import select
from starlette.testclient import TestClient

from app.cli import alembic_config
from app.db import make_engine, open_session
from app.kit.security import CSRF_COOKIE
from app.kit.tokens import Tokens
from app.letters.demo import create_demo_letter
from app.letters.models import Letter
from app.main import create_app
from app.organisers import service as organisers
from app.organisers.auth import SESSION_COOKIE
from app.organisers.models import Organiser
from app.signatures import offline
from app.signatures.models import Signature, SignatureSource
from app.signatures.offline_csv import check_csv, clean_rows, content_hash
from tests.live import throwaway_settings
from tests.pg import bench_databases

FIRST = ["Anna", "Олена", "Giorgi", "Ілля", "Léa", "Ayşe", "Sofia", "Дмитрий", "Nino", "Jonas"]
LAST = ["Kowalska", "Шевченко", "Beridze", "Яшин", "Moreau", "Demir", "Andersson", "Koval"]
AFFILIATIONS = ["", "", "Teachers' union", "Memorial", "Пенсионер", "Student", "Physician"]
CITIES = ["", "Penza", "Пермь", "Tbilisi", "Kharkiv", "Vilnius", "Berlin", "Yekaterinburg"]
COUNTRIES = ["RU", "RU", "UA", "GE", "LT", "DE", ""]
VISIBILITIES = ["counted_only", "counted_only", "letter_only", "public", ""]


def build_file(rows: int) -> bytes:
    lines = ["name,affiliation,city,country,visibility"]
    for n in range(rows):
        name = f"{FIRST[n % len(FIRST)]} {LAST[(n // 7) % len(LAST)]}-{n}"
        lines.append(
            ",".join(
                (
                    name,
                    AFFILIATIONS[n % len(AFFILIATIONS)],
                    CITIES[(n // 3) % len(CITIES)],
                    COUNTRIES[n % len(COUNTRIES)],
                    VISIBILITIES[n % len(VISIBILITIES)],
                )
            )
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def new_letter(url: str, slug: str) -> int:
    engine = make_engine(url, connections=2)
    with open_session(engine, write=True) as session:
        letter = Letter(slug=slug, title=slug, summary="", body_markdown="Text.")
        session.add(letter)
        session.commit()
        assert letter.id is not None
        letter_id = letter.id
    engine.dispose()
    return letter_id


def service_path(url: str, data: bytes, letter_id: int) -> tuple[float, float, int, float]:
    """Seconds to check, seconds to store and commit, rows stored, and this process's CPU
    seconds for both (on a shared machine, wall time also counts other processes' turns)."""
    engine = make_engine(url, connections=2)
    cpu = time.process_time()
    started = time.perf_counter()
    report = check_csv(data, max_rows=1_000_000)
    checked = time.perf_counter() - started
    assert report.clean, report.problems[:3]
    started = time.perf_counter()
    with open_session(engine, write=True) as session:
        attestation_id = offline.create_attestation(
            session,
            letter_id=letter_id,
            data=offline.AttestationInput("Bench", "generated", date(2026, 1, 1), None),
            organiser_id=None,
        )
        _, stored = offline.import_rows(
            session,
            letter_id=letter_id,
            attestation_id=attestation_id,
            rows=clean_rows(report.text),
            language="en",
            file_name="bench.csv",
            file_sha256=content_hash(report.text),
            organiser_id=None,
        )
        session.commit()
    imported = time.perf_counter() - started
    cpu = time.process_time() - cpu
    engine.dispose()
    return checked, imported, stored, cpu


def signed_in_client(app: object, url: str, settings: object) -> TestClient:
    """A client holding an admin's session cookie and a CSRF cookie, as after signing in."""
    engine = make_engine(url, connections=2)
    keyring = settings.keyring()  # type: ignore[attr-defined]
    with open_session(engine, write=True) as session:
        organisers.create_organiser(
            session, email="bench@example.org", is_admin=True, keyring=keyring
        )
        session.commit()
        organiser = session.exec(select(Organiser)).one()
        cookie = organisers.session_token(
            Tokens(settings.resolved_secret_keys()),  # type: ignore[attr-defined]
            organiser,
        )
    engine.dispose()
    client = TestClient(app, base_url="http://127.0.0.1:8000")  # type: ignore[arg-type]
    client.cookies.set(SESSION_COOKIE, cookie, path="/organise")
    client.cookies.set(CSRF_COOKIE, "c" * 43)
    return client


def request_path(url: str, workdir: Path, data: bytes, letter_id: int) -> tuple[float, float]:
    settings = throwaway_settings(url, workdir / "request")
    app = create_app(settings)
    with signed_in_client(app, url, settings) as client:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post(
            f"/organise/letters/{letter_id}/offline/import",
            data={
                "csrf_token": "c" * 43,
                "attestation": "new",
                "collector": "Bench",
                "method": "generated",
                "collected_from": "2026-01-01",
            },
            files={"file": ("bench.csv", data, "text/csv")},
            follow_redirects=False,
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code == 303, response.text[:2000]
    app.state.engine.dispose()  # type: ignore[attr-defined]
    return elapsed, cpu


def stored_offline(url: str, letter_id: int) -> int:
    engine = make_engine(url, connections=2)
    with open_session(engine) as session:
        found = session.exec(
            select(func.count())
            .select_from(Signature)
            .where(Signature.letter_id == letter_id)
            .where(Signature.source == SignatureSource.OFFLINE)
        ).one()
    engine.dispose()
    return found


def run(label: str, url: str, workdir: Path, data: bytes, rows: int) -> None:
    command.upgrade(alembic_config(url), "head")
    with open_session(make_engine(url, connections=2), write=True) as session:
        create_demo_letter(session)
        session.commit()
    checked, imported, stored, cpu = service_path(url, data, new_letter(url, "service"))
    assert stored == rows
    total = checked + imported
    print(
        f"{label}: service path, {rows:,} rows: checked in {checked:.2f} s, stored and committed"
        f" in {imported:.2f} s; {rows / total:,.0f} rows/s overall"
        f" (this process's CPU: {cpu:.2f} s; load average {os.getloadavg()[0]:.1f})"
    )
    tracemalloc.start()
    service_path(url, data, new_letter(url, "traced"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  peak Python memory (tracemalloc) for the service path: {peak / 1e6:.1f} MB")
    letter_id = new_letter(url, "request")
    elapsed, cpu = request_path(url, workdir, data, letter_id)
    assert stored_offline(url, letter_id) == rows
    print(
        f"  whole request (upload, checks, import, commit): {elapsed:.2f} s,"
        f" {rows / elapsed:,.0f} rows/s (CPU {cpu:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data = build_file(args.rows)
    print(f"File: {args.rows:,} rows, {len(data) / 1e6:.1f} MB")
    for label, url, workdir in bench_databases("import"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        run(label, url, workdir, data, args.rows)
    print(f"Process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
