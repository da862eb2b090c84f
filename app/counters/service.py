"""Reading the derived counts, folding new changes into them, and rebuilding them.

Pages and the public API read counts here (``letter_counts``, ``totals``); nothing public
counts signature rows. The counts lag the signatures by at most one freshness interval: the
recurring ``counters.fold`` job moves what the triggers wrote to ``count_deltas`` into the
count tables. ``recount`` rebuilds a letter's counts from its signatures.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, and_, col

from app.counters.models import CountDelta, LetterCount, LetterCountryCount, LetterDayCount
from app.db import open_session, utcnow
from app.kit.i18n import N_
from app.letters.models import Letter, LetterStatus
from app.signatures.models import Signature, SignatureState, Visibility

log = logging.getLogger(__name__)

# Deltas folded per transaction. On PostgreSQL the triggers group each statement's changes, so
# a batch is usually far smaller; on SQLite one confirmation is one row.
FOLD_BATCH = 5000
PUBLIC_STATUSES = (LetterStatus.OPEN, LetterStatus.CLOSED, LetterStatus.DELIVERED)


@dataclass(frozen=True, slots=True)
class LetterCounts:
    """A letter's public counts as last folded. ``by_country`` keys are ISO codes ("" for
    signers who gave none); ``by_day`` keys are UTC days of confirmation."""

    total: int = 0
    named: int = 0
    by_country: dict[str, int] = field(default_factory=dict)
    by_day: dict[date, int] = field(default_factory=dict)
    # When any of these counts last changed, and when the total did (None: never).
    updated_at: datetime | None = None
    changed_at: datetime | None = None
    version: int = 0


def letter_counts(session: Session, letter_id: int) -> LetterCounts:
    row = session.get(LetterCount, letter_id)
    if row is None:
        return LetterCounts()
    countries = session.exec(
        select(LetterCountryCount.country, LetterCountryCount.total)  # type: ignore[call-overload]
        .where(col(LetterCountryCount.letter_id) == letter_id)
        .where(col(LetterCountryCount.total) > 0)
        .order_by(col(LetterCountryCount.country))
    ).all()
    days = session.exec(
        select(LetterDayCount.day, LetterDayCount.total)  # type: ignore[call-overload]
        .where(col(LetterDayCount.letter_id) == letter_id)
        .where(col(LetterDayCount.total) > 0)
        .order_by(col(LetterDayCount.day))
    ).all()
    return LetterCounts(
        total=row.total,
        named=row.named,
        by_country=dict(countries),
        by_day=dict(days),
        updated_at=row.updated_at,
        changed_at=row.changed_at,
        version=row.version,
    )


def totals(session: Session, *, letter_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed signatures of several letters in one query (letters with none are 0)."""
    rows = session.exec(
        select(LetterCount.letter_id, LetterCount.total).where(  # type: ignore[call-overload]
            col(LetterCount.letter_id).in_(letter_ids)
        )
    ).all()
    return dict.fromkeys(letter_ids, 0) | dict(rows)


# -- what the per-process cache reads -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """One row of what the counter endpoints show about a public letter."""

    letter_id: int
    slug: str
    title: str
    language: str
    goal: int | None
    accepting: bool
    total: int
    # When the count last changed; the letter's publication before its first signature.
    changed_at: datetime | None
    last_modified: datetime


def counter_snapshots(
    session: Session, *, letter_ids: Iterable[int] = (), slug: str | None = None
) -> list[CounterSnapshot]:
    """Public letters by id (the cache's refresh) or by slug (a first request), with their
    count: one indexed query either way. Drafts are never returned.

    This reads ``letters`` directly, against the house rule, because it runs on the counters'
    hot path and one join is the point."""
    query = (
        select(
            col(Letter.id),
            col(Letter.slug),
            col(Letter.title),
            col(Letter.language),
            col(Letter.goal),
            col(Letter.status),
            col(Letter.closes_at),
            col(Letter.published_at),
            col(Letter.created_at),
            col(LetterCount.total),
            col(LetterCount.changed_at),
        )
        .outerjoin(LetterCount, col(LetterCount.letter_id) == col(Letter.id))
        .where(col(Letter.status).in_(PUBLIC_STATUSES))
    )
    if slug is not None:
        if "\x00" in slug:  # PostgreSQL refuses NUL in text: no letter has one
            return []
        query = query.where(col(Letter.slug) == slug)
    else:
        query = query.where(col(Letter.id).in_(list(letter_ids)))
    now = utcnow()
    return [
        CounterSnapshot(
            letter_id=row.id,
            slug=row.slug,
            title=row.title,
            language=row.language,
            goal=row.goal,
            accepting=row.status is LetterStatus.OPEN
            and (row.closes_at is None or now < row.closes_at),
            total=row.total or 0,
            changed_at=row.changed_at,
            last_modified=row.changed_at or row.published_at or row.created_at,
        )
        for row in session.execute(query)
    ]


# -- folding the deltas ----------------------------------------------------------------------


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _add_to(session: Session, table: Table, keys: dict[str, object], amount: int) -> None:
    statement = _insert(session)(table).values(**keys, total=amount)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys), set_={"total": table.c.total + statement.excluded.total}
        )
    )


@dataclass
class _Changes:
    total: int = 0
    named: int = 0
    countries: Counter[str] = field(default_factory=Counter)
    days: Counter[date] = field(default_factory=Counter)


def _apply(session: Session, changes: dict[int, _Changes]) -> None:
    """Add folded changes to the count tables, letter by letter in id order (so two folds
    running at once lock rows in the same order and never deadlock)."""
    existing: set[int] = {
        letter_id
        for letter_id in session.scalars(
            select(col(Letter.id)).where(col(Letter.id).in_(list(changes)))
        )
        if letter_id is not None
    }
    counts: Table = LetterCount.__table__  # type: ignore[attr-defined]
    countries: Table = LetterCountryCount.__table__  # type: ignore[attr-defined]
    days: Table = LetterDayCount.__table__  # type: ignore[attr-defined]
    now = utcnow()
    for letter_id in sorted(existing):
        change = changes[letter_id]
        moved_countries = {k: v for k, v in change.countries.items() if v}
        moved_days = {k: v for k, v in change.days.items() if v}
        if not (change.total or change.named or moved_countries or moved_days):
            continue
        statement = _insert(session)(counts).values(
            letter_id=letter_id,
            total=change.total,
            named=change.named,
            version=1,
            changed_at=now if change.total else None,
            updated_at=now,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["letter_id"],
                set_={
                    "total": counts.c.total + change.total,
                    "named": counts.c.named + change.named,
                    "version": counts.c.version + 1,
                    "changed_at": now if change.total else counts.c.changed_at,
                    "updated_at": now,
                },
            )
        )
        for country, amount in sorted(moved_countries.items()):
            _add_to(session, countries, {"letter_id": letter_id, "country": country}, amount)
        for day, amount in sorted(moved_days.items()):
            _add_to(session, days, {"letter_id": letter_id, "day": day}, amount)


def _fold_batch(session: Session, *, limit: int) -> int:
    pick = select(col(CountDelta.id)).order_by(col(CountDelta.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Two folds at once take different deltas instead of waiting for each other.
        pick = pick.with_for_update(skip_locked=True)
    taken = session.execute(
        delete(CountDelta)
        .where(col(CountDelta.id).in_(pick.scalar_subquery()))
        .returning(
            col(CountDelta.letter_id),
            col(CountDelta.country),
            col(CountDelta.day),
            col(CountDelta.named),
            col(CountDelta.delta),
        )
    ).all()
    changes: dict[int, _Changes] = defaultdict(_Changes)
    for letter_id, country, day, named, delta in taken:
        change = changes[letter_id]
        change.total += delta
        change.named += delta if named else 0
        change.countries[country] += delta
        if day is not None:
            change.days[day] += delta
    if changes:
        _apply(session, changes)
    return len(taken)


def fold_pending(engine: Engine, *, batch: int = FOLD_BATCH, max_batches: int = 200) -> int:
    """Fold what the triggers recorded into the count tables; returns how many deltas.

    Deltas are deleted in the transaction that adds them to the counts, so each is counted
    exactly once whatever order concurrent transactions commit in (a delta not yet committed
    is simply left for the next fold)."""
    folded = 0
    for _ in range(max_batches):
        with open_session(engine, write=True) as session:
            done = _fold_batch(session, limit=batch)
            session.commit()
        folded += done
        if done < batch:
            break
    return folded


# -- rebuilding from the signatures ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recount:
    slug: str
    before: int
    after: int


def _day_of(session: Session) -> ColumnElement[date]:
    if session.get_bind().dialect.name == "postgresql":
        return func.cast(func.timezone("UTC", col(Signature.confirmed_at)), postgresql.DATE)
    return func.date(col(Signature.confirmed_at))


def _rebuild(session: Session, letter_id: int) -> tuple[int, int]:
    session.execute(delete(CountDelta).where(col(CountDelta.letter_id) == letter_id))
    day = _day_of(session).label("day")
    named = and_(
        col(Signature.visibility) == Visibility.PUBLIC, col(Signature.hidden_at).is_(None)
    ).label("named")
    rows = session.execute(
        select(col(Signature.country), day, named, func.count().label("n"))
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.state) == SignatureState.CONFIRMED)
        .group_by(col(Signature.country), day, named)
    ).all()
    change = _Changes()
    for country, on_day, is_named, n in rows:
        change.total += n
        change.named += n if is_named else 0
        change.countries[country] += n
        if on_day is not None:
            change.days[on_day if isinstance(on_day, date) else date.fromisoformat(on_day)] += n
    was = letter_counts(session, letter_id)
    now_counts = (change.total, change.named, +change.countries, +change.days)
    if (was.total, was.named, was.by_country, was.by_day) == now_counts and was.version:
        return was.total, was.total
    session.execute(
        delete(LetterCountryCount).where(col(LetterCountryCount.letter_id) == letter_id)
    )
    session.execute(delete(LetterDayCount).where(col(LetterDayCount.letter_id) == letter_id))
    now = utcnow()
    stored = session.get(LetterCount, letter_id)
    if stored is None:
        stored = LetterCount(letter_id=letter_id)
        session.add(stored)
    if stored.total != change.total:
        stored.changed_at = now
    stored.total, stored.named = change.total, change.named
    stored.version += 1
    stored.updated_at = now
    for country, n in (+change.countries).items():
        session.add(LetterCountryCount(letter_id=letter_id, country=country, total=n))
    for on_day, n in (+change.days).items():
        session.add(LetterDayCount(letter_id=letter_id, day=on_day, total=n))
    session.flush()
    return was.total, change.total


def recount(engine: Engine, *, slug: str | None = None) -> list[Recount]:
    """Rebuild the counts of one letter (drafts included) or of every letter from their
    signatures, each letter in its own transaction. Raises LookupError for an unknown slug."""
    with open_session(engine) as session:
        query = select(col(Letter.id), col(Letter.slug)).order_by(col(Letter.id))
        if slug is not None:
            query = query.where(col(Letter.slug) == slug)
        letters = session.execute(query).all()
    if slug is not None and not letters:
        raise LookupError(slug)
    return [Recount(row.slug, *_recount_one(engine, row.id)) for row in letters]


def _recount_one(engine: Engine, letter_id: int, *, attempts: int = 5) -> tuple[int, int]:
    if engine.dialect.name != "postgresql":
        with open_session(engine, write=True) as session:  # SQLite: one writer at a time
            result = _rebuild(session, letter_id)
            session.commit()
            return result
    # One snapshot for the deltas deleted and the signatures counted: a change committed
    # after it keeps its delta for the next fold. A fold touching the same rows meanwhile
    # makes this transaction fail to serialize; it is simply run again.
    consistent = engine.execution_options(isolation_level="REPEATABLE READ")
    for attempt in range(attempts):
        with Session(consistent, expire_on_commit=False) as session:
            try:
                result = _rebuild(session, letter_id)
                session.commit()
                return result
            except OperationalError as exc:
                session.rollback()
                if getattr(exc.orig, "sqlstate", None) != "40001" or attempt == attempts - 1:
                    raise
                log.info("recount of letter %s met a concurrent fold; again", letter_id)
    raise AssertionError("unreachable")


# -- what the letter page offers to copy -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmbedCode:
    key: str
    label: str  # translated by the template that shows it
    code: str


def embed_codes(*, base_url: str, slug: str) -> list[EmbedCode]:
    """Snippets for other sites: the counter page in a frame, the script, the badge."""
    letter = f"{base_url}/letters/{slug}"
    return [
        EmbedCode(
            "iframe",
            N_("A counter in a frame (no script)"),
            f'<iframe src="{letter}/embed" title="Signatures" width="320" height="150" '
            'style="border:0" loading="lazy"></iframe>',
        ),
        EmbedCode(
            "script",
            N_("A live counter (script)"),
            f'<div data-letter="{slug}"></div>\n<script src="{base_url}/embed.js" async></script>',
        ),
        EmbedCode(
            "badge",
            N_("A badge (image)"),
            f'<a href="{letter}"><img src="{letter}/badge.svg" alt="Signatures"></a>',
        ),
    ]
