"""Derived counts: what moves them, the recurring job that folds them, and ``recount``.

Counts are read as the public sees them (count.json, through the app's fast path) and as the
service gives them (``letter_counts``), after the recurring job has run: never by timing.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlmodel import col
from starlette.testclient import TestClient

from app.config import Settings
from app.counters import jobs as counter_jobs
from app.counters.models import CountDelta, LetterCount, LetterCountryCount
from app.counters.service import LetterCounts, fold_pending, letter_counts, recount
from app.db import open_session, utcnow
from app.jobs import registry
from app.jobs import service as jobs
from app.jobs.worker import ClaimedJob, JobContext, JobWorker, Outcome, start_in_thread
from app.mail.sender import SMTPSender
from app.signatures import moderation
from app.signatures.models import Signature, SignatureState, Visibility
from tests.helpers import (
    add_letter,
    add_signature,
    catch_up_counts,
    count,
    links,
    new_mail,
    press_button,
    sign,
)
from tests.smtp import SMTPServer


def counts_of(engine: Engine, letter_id: int) -> LetterCounts:
    with open_session(engine) as session:
        return letter_counts(session, letter_id)


def public_count(client: TestClient, slug: str) -> int:
    """count.json as served now, without helping the counts catch up."""
    client.app.state.counters.forget()  # type: ignore[attr-defined]
    response = client.get(f"/letters/{slug}/count.json")
    assert response.status_code == 200
    return int(response.json()["signatures"])


def pending_deltas(engine: Engine) -> int:
    with open_session(engine) as session:
        return int(session.execute(text("SELECT count(*) FROM count_deltas")).scalar_one())


def test_the_recurring_job_brings_the_count_up_to_date(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    worker.recurring = registry.recurring(settings)  # the app's own schedule, fold included
    assert sign(client, letter_slug, email="one@example.org").status_code == 200
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    # Confirmed, but no counter row was touched: the change waits as a delta.
    assert pending_deltas(engine) == 1
    assert public_count(client, letter_slug) == 0

    later = utcnow() + timedelta(seconds=settings.count_freshness_seconds)
    worker.clock = lambda: later  # the next freshness interval has come
    worker.run_until_idle()
    assert pending_deltas(engine) == 0
    assert public_count(client, letter_slug) == 1
    with open_session(engine) as session:
        kinds = session.execute(text("SELECT kind FROM jobs WHERE state = 'done'")).scalars()
        assert counter_jobs.FOLD in set(kinds)


def test_the_fold_runs_every_0_3_freshness_intervals(
    engine: Engine, settings: Settings, worker: JobWorker
) -> None:
    period = 1.5  # 0.3 of 5 s
    start = int(utcnow().timestamp() // period) * period
    moments = [datetime.fromtimestamp(start + 0.1, tz=UTC)]
    worker.clock = lambda: moments[0]
    worker.recurring = registry.recurring(
        settings.model_copy(update={"count_freshness_seconds": 5})
    )

    def folds() -> int:
        with open_session(engine) as session:
            query = text("SELECT count(*) FROM jobs WHERE kind = :kind")
            return int(session.execute(query, {"kind": counter_jobs.FOLD}).scalar_one())

    worker.run_due()
    assert folds() == 1
    moments[0] += timedelta(seconds=1)
    worker.run_due()
    assert folds() == 1  # the same period
    moments[0] += timedelta(seconds=0.5)  # the next period has begun
    worker.run_due()
    assert folds() == 2


def test_a_running_worker_folds_even_while_a_long_job_holds_its_queue(
    engine: Engine, settings: Settings, letter_slug: str
) -> None:
    """The counts are folded on a thread of their own: a job that takes long (here, one that
    waits until the count has moved) does not hold them back."""
    release = threading.Event()

    def long_job(context: JobContext, claimed: ClaimedJob) -> Outcome:
        release.wait(timeout=60)
        return Outcome.DONE

    quick = settings.model_copy(update={"count_freshness_seconds": 1})
    worker = JobWorker(
        engine=engine,
        settings=quick,
        sender=SMTPSender(quick),
        handlers={**registry.HANDLERS, "test.long": long_job},
        recurring=registry.recurring(quick),
    )
    with open_session(engine, write=True) as session:
        jobs.enqueue(session, kind="test.long")
        session.commit()
    fold_pending(engine)
    letter_id = add_signature(engine, letter_slug, name="Early Signer", email="e@ex.org").letter_id
    before = counts_of(engine, letter_id).total
    running, stop = start_in_thread(worker)
    try:
        deadline = time.monotonic() + 60
        while counts_of(engine, letter_id).total == before:
            assert time.monotonic() < deadline, "the count never moved while the job ran"
            time.sleep(0.05)
        assert not release.is_set()  # folded while the long job still held the worker
    finally:
        release.set()
        stop.set()
        running.join(timeout=30)
    assert counts_of(engine, letter_id).total == before + 1


def test_what_moves_the_counts(client: TestClient, engine: Engine) -> None:
    letter_id = add_letter(engine, "moves", goal=10)
    day = utcnow() - timedelta(days=3)
    first = add_signature(engine, "moves", name="A B", email="a@ex.org", country="DE")
    second = add_signature(
        engine, "moves", name="C D", email="c@ex.org", country="FR", confirmed_at=day
    )
    add_signature(engine, "moves", name="E F", email="e@ex.org", visibility=Visibility.COUNTED_ONLY)
    add_signature(engine, "moves", name="G H", email="g@ex.org", state=SignatureState.PENDING)
    fold_pending(engine)
    counts = counts_of(engine, letter_id)
    assert (counts.total, counts.named) == (3, 2)
    assert counts.by_country == {"": 1, "DE": 1, "FR": 1}
    assert counts.by_day == {utcnow().date(): 2, day.date(): 1}
    assert counts.version == 1
    assert counts.changed_at is not None

    assert first.id is not None and second.id is not None
    with open_session(engine, write=True) as session:
        assert moderation.set_hidden(
            session, letter_id=letter_id, signature_id=first.id, hidden=True
        )
        session.commit()
    fold_pending(engine)
    hidden = counts_of(engine, letter_id)
    assert (hidden.total, hidden.named) == (3, 1)  # still counted, no longer named
    assert hidden.changed_at == counts.changed_at  # the total did not move
    assert hidden.version == 2

    with open_session(engine, write=True) as session:
        moderation.invalidate(session, letter_id=letter_id, signature_id=second.id, reason="x")
        session.commit()
    fold_pending(engine)
    invalid = counts_of(engine, letter_id)
    assert (invalid.total, invalid.named) == (2, 0)
    assert invalid.by_country == {"": 1, "DE": 1}
    assert invalid.by_day == {utcnow().date(): 2}
    assert public_count(client, "moves") == 2

    with open_session(engine, write=True) as session:
        moderation.restore(session, letter_id=letter_id, signature_id=second.id)
        session.commit()
    fold_pending(engine)
    assert counts_of(engine, letter_id).by_country == {"": 1, "DE": 1, "FR": 1}

    # A confirmed signer changing their country and visibility moves both.
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature)
            .where(col(Signature.id) == second.id)
            .values(country="IT", visibility=Visibility.LETTER_ONLY)
        )
        session.commit()
    fold_pending(engine)
    changed = counts_of(engine, letter_id)
    assert (changed.total, changed.named) == (3, 0)
    assert changed.by_country == {"": 1, "DE": 1, "IT": 1}

    # Deleting a confirmed row (as an import might undo itself) lowers the count too.
    with open_session(engine, write=True) as session:
        session.execute(delete(Signature).where(col(Signature.id) == first.id))
        session.commit()
    fold_pending(engine)
    assert counts_of(engine, letter_id).total == 2
    assert recount(engine, slug="moves")[0].before == 2  # and the fold agrees with a recount


def test_withdrawing_lowers_the_count(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug, email="w@example.org", country="PL").status_code == 200
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    assert count(client, letter_slug) == 1
    assert press_button(client, links(mail)["withdraw"]).status_code == 200
    assert public_count(client, letter_slug) == 1  # until the job runs
    assert count(client, letter_slug) == 0
    [letter_id] = {row for row in _letter_ids(engine, letter_slug)}
    assert counts_of(engine, letter_id).by_country == {}


def _letter_ids(engine: Engine, slug: str) -> list[int]:
    with open_session(engine) as session:
        query = text("SELECT id FROM letters WHERE slug = :slug")
        return list(session.execute(query, {"slug": slug}).scalars())


def test_a_bulk_import_of_confirmed_rows_is_counted(client: TestClient, engine: Engine) -> None:
    """Rows written by SQL alone (an import, paper signatures) count like any other."""
    letter_id = add_letter(engine, "bulk")
    with open_session(engine, write=True) as session:
        session.execute(
            text(
                "INSERT INTO signatures (public_id, letter_id, name, affiliation, city, country,"
                " language, visibility, may_contact, state, mails_in_window, created_at,"
                " confirmed_at, invalidated_reason) VALUES (:p, :l, 'Paper Signer', '', '',"
                " :c, 'en', 'counted_only', false, 'confirmed', 0, :t, :t, '')"
            ),
            [
                {"p": f"paper{n}", "l": letter_id, "c": "NL" if n % 2 else "BE", "t": utcnow()}
                for n in range(40)
            ],
        )
        session.commit()
    catch_up_counts(client)
    assert public_count(client, "bulk") == 40
    assert counts_of(engine, letter_id).by_country == {"BE": 20, "NL": 20}


def test_recount_repairs_a_count_that_drifted(
    client: TestClient, engine: Engine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import recount as recount_command

    letter_id = add_letter(engine, "drift")
    for n in range(3):
        add_signature(engine, "drift", name="A B", email=f"{n}@ex.org", country="AT")
    catch_up_counts(client)
    with open_session(engine, write=True) as session:  # a bug, a restore from backup...
        session.execute(
            update(LetterCount).where(col(LetterCount.letter_id) == letter_id).values(total=999)
        )
        session.execute(delete(LetterCountryCount))
        session.commit()
    assert public_count(client, "drift") == 999

    assert recount_command(settings, slug="drift") == 0
    assert "drift: 999 -> 3" in capsys.readouterr().out
    assert public_count(client, "drift") == 3
    assert counts_of(engine, letter_id).by_country == {"AT": 3}

    assert recount_command(settings, slug="drift") == 0
    assert "drift: 3 (was right)" in capsys.readouterr().out
    assert recount_command(settings, slug="no-such-letter") == 1


def test_recount_and_unfolded_changes_never_count_twice(client: TestClient, engine: Engine) -> None:
    letter_id = add_letter(engine, "twice")
    add_signature(engine, "twice", name="A B", email="a@ex.org")
    assert pending_deltas(engine) == 1
    [result] = recount(engine, slug="twice")
    assert (result.before, result.after) == (0, 1)
    assert pending_deltas(engine) == 0  # the recount took in what the delta said
    fold_pending(engine)
    assert counts_of(engine, letter_id).total == 1
    add_signature(engine, "twice", name="C D", email="c@ex.org")
    fold_pending(engine)
    assert counts_of(engine, letter_id).total == 2


def test_the_triggers_are_in_place(engine: Engine) -> None:
    """A later migration that rebuilds ``signatures`` (SQLite's batch mode) drops its triggers;
    this fails until they are created again."""
    letter_id = add_letter(engine, "triggers")
    signature = add_signature(engine, "triggers", name="A B", email="a@ex.org")
    with open_session(engine) as session:
        [delta] = session.exec(  # type: ignore[call-overload]
            CountDelta.__table__.select()  # type: ignore[attr-defined]
        ).all()
    assert (delta.letter_id, delta.delta, delta.named) == (letter_id, 1, True)
    assert delta.day == (signature.confirmed_at or utcnow()).date()
    assert isinstance(delta.day, date)


def test_folds_running_at_once_count_each_change_once(engine: Engine) -> None:
    """Several workers may fold at the same moment (a slow fold overlapping the next period):
    each delta is taken by one of them, and the result is what a recount finds."""
    import threading

    letter_id = add_letter(engine, "crowded")
    with open_session(engine, write=True) as session:
        for n in range(300):  # one statement each: one delta row each
            session.execute(
                text(
                    "INSERT INTO signatures (public_id, letter_id, name, affiliation, city,"
                    " country, language, visibility, may_contact, state, mails_in_window,"
                    " created_at, confirmed_at, invalidated_reason) VALUES (:p, :l, 'A B', '',"
                    " '', :c, 'en', 'public', false, 'confirmed', 0, :t, :t, '')"
                ),
                {"p": f"crowd{n}", "l": letter_id, "c": ["SE", "NO", "FI"][n % 3], "t": utcnow()},
            )
        session.commit()
    assert pending_deltas(engine) == 300
    failures: list[BaseException] = []

    def fold() -> None:
        try:
            fold_pending(engine, batch=7)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert pending_deltas(engine) == 0
    counts = counts_of(engine, letter_id)
    assert (counts.total, counts.named) == (300, 300)
    assert counts.by_country == {"FI": 100, "NO": 100, "SE": 100}
    [check] = recount(engine, slug="crowded")
    assert check.before == check.after == 300
