"""Synthetic confirmed signatures for demos and benchmarks (``undersigned demo --signatures N``):
names in several scripts with fitting cities and countries, a mix of visibility choices,
confirmation times spread over the last weeks in order. Written by bulk inserts, fast enough
for a million in a few minutes. They have no address (``email_*`` are NULL, as after a
withdrawal's erasure), so nobody can be mailed, and nothing can collide with a real signer.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import Engine, Table, func, insert
from sqlalchemy import select as core_select
from sqlmodel import col

from app.db import open_session, utcnow
from app.letters.models import Letter
from app.signatures.models import Signature, SignatureState, Visibility

BATCH = 10_000
_TABLE: Table = Signature.__table__  # type: ignore[attr-defined]

# (weight, first names, family names, [(city, country)])
PEOPLE: list[tuple[int, list[str], list[str], list[tuple[str, str]]]] = [
    (
        30,
        ["Anna", "Lukas", "Marie", "Jonas", "Sophie", "Paul", "Lea", "Felix", "Clara", "Emil"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann"],
        [("Berlin", "DE"), ("Hamburg", "DE"), ("München", "DE"), ("Wien", "AT"), ("Zürich", "CH")],
    ),
    (
        20,
        ["Emma", "Oliver", "Amelia", "Jack", "Olivia", "Noah", "Isla", "Leo", "Grace", "Ethan"],
        ["Smith", "Jones", "Taylor", "Brown", "O'Connor", "Williams", "Wilson", "Evans"],
        [
            ("London", "GB"),
            ("Dublin", "IE"),
            ("New York", "US"),
            ("Toronto", "CA"),
            ("Leeds", "GB"),
        ],
    ),
    (
        12,
        ["Camille", "Léa", "Hugo", "Chloé", "Louis", "Élodie", "Théo", "Inès", "José", "Lucía"],
        ["Martin", "Bernard", "Dubois", "Lefèvre", "García", "Fernández", "Rossi", "Esposito"],
        [("Paris", "FR"), ("Lyon", "FR"), ("Madrid", "ES"), ("Sevilla", "ES"), ("Roma", "IT")],
    ),
    (
        8,
        ["Łukasz", "Zofia", "Jakub", "Agnieszka", "Tomáš", "Kateřina", "Bálint", "Zsófia"],
        ["Nowak", "Wiśniewska", "Kowalczyk", "Dvořák", "Novotná", "Nagy", "Szabó", "Kovács"],
        [("Warszawa", "PL"), ("Kraków", "PL"), ("Praha", "CZ"), ("Brno", "CZ"), ("Budapest", "HU")],
    ),
    (
        14,
        ["Мария", "Иван", "Анна", "Дмитрий", "Ольга", "Алексей", "Наталья", "Сергей", "Олена"],
        ["Иванова", "Петров", "Смирнова", "Кузнецов", "Попова", "Соколов", "Шевченко", "Коваль"],
        [
            ("Москва", "RU"),
            ("Санкт-Петербург", "RU"),
            ("Київ", "UA"),
            ("Львів", "UA"),
            ("Тбилиси", "GE"),
        ],
    ),
    (
        5,
        ["Νίκος", "Μαρία", "Γιώργος", "Ελένη", "Δημήτρης", "Κατερίνα"],
        ["Παπαδόπουλος", "Παπαδοπούλου", "Γεωργίου", "Νικολάου", "Οικονόμου"],
        [("Αθήνα", "GR"), ("Θεσσαλονίκη", "GR"), ("Λευκωσία", "CY")],
    ),
    (
        6,
        ["محمد", "فاطمة", "أحمد", "مريم", "علي", "ليلى", "يوسف", "نور"],
        ["الحسن", "العلي", "منصور", "خليل", "حداد", "سعيد"],
        [("القاهرة", "EG"), ("بيروت", "LB"), ("عمّان", "JO"), ("تونس", "TN"), ("الرباط", "MA")],
    ),
    (
        5,
        ["דוד", "שרה", "יוסף", "רחל", "מיכאל", "נועה", "אבי", "תמר"],
        ["כהן", "לוי", "מזרחי", "פרץ", "ביטון", "אברהם"],
        [("תל אביב", "IL"), ("ירושלים", "IL"), ("חיפה", "IL")],
    ),
]
AFFILIATIONS = [
    "Amnesty International",
    "University of Vienna",
    "Charles University",
    "PEN Berlin",
    "Memorial",
    "Reporters Without Borders",
    "Sciences Po",
    "Trinity College Dublin",
]
VISIBILITIES = (
    [Visibility.PUBLIC] * 45 + [Visibility.LETTER_ONLY] * 25 + [Visibility.COUNTED_ONLY] * 30
)


def synthetic_rows(
    letter_id: int,
    language: str,
    count: int,
    *,
    seed: int | None = None,
    after: datetime | None = None,
    days: float = 60.0,
) -> Iterator[dict[str, object]]:
    """``count`` rows confirmed in order, one at a time: after ``after`` (the letter's latest
    confirmation, as real signatures only ever arrive at the end) or over the ``days`` before
    now, until now."""
    rng = random.Random(seed)  # noqa: S311 - made-up names, not secrets
    groups = [group for group in PEOPLE for _ in range(group[0])]
    now = utcnow()
    start = now - timedelta(days=days) if after is None or after >= now else after
    step = (now - start) / (count + 1)
    for index in range(count):
        _, firsts, lasts, places = rng.choice(groups)
        city, country = rng.choice(places)
        confirmed = start + step * (index + 1)
        yield {
            "public_id": secrets.token_hex(16),
            "letter_id": letter_id,
            "name": f"{rng.choice(firsts)} {rng.choice(lasts)}",
            "affiliation": rng.choice(AFFILIATIONS) if rng.random() < 0.12 else "",
            "city": city if rng.random() < 0.8 else "",
            "country": country,
            "language": language,
            "visibility": rng.choice(VISIBILITIES).value,
            "may_contact": False,
            "state": SignatureState.CONFIRMED.value,
            "mails_in_window": 0,
            "created_at": confirmed - timedelta(minutes=3),
            "confirmed_at": confirmed,
            "invalidated_reason": "",
        }


def add_synthetic_signatures(
    engine: Engine,
    *,
    slug: str,
    count: int,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert ``count`` confirmed signatures in batches, each batch its own transaction."""
    with open_session(engine) as session:
        found = session.execute(
            core_select(col(Letter.id), col(Letter.language)).where(col(Letter.slug) == slug)
        ).first()
    if found is None:
        raise LookupError(slug)
    letter_id, language = found
    with open_session(engine) as session:
        latest = session.execute(
            core_select(func.max(col(Signature.confirmed_at))).where(
                col(Signature.letter_id) == letter_id
            )
        ).scalar_one_or_none()
    if isinstance(latest, str):  # SQLite hands an aggregate back as text
        latest = datetime.fromisoformat(latest).replace(tzinfo=UTC)
    rows = synthetic_rows(letter_id, language, count, seed=seed, after=latest)
    done = 0
    while done < count:
        batch = list(islice(rows, BATCH))
        with open_session(engine, write=True) as session:
            session.execute(insert(_TABLE), batch)
            session.commit()
        done += len(batch)
        if progress is not None:
            progress(done)
    return done
