"""The letter's dashboard: the numbers an organiser sees match the rows, the chart is an
accessible SVG with the same numbers in a table, and signers are named only as they allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import utcnow
from app.jobs.worker import JobWorker
from app.organisers.dashboard import bar_chart
from app.signatures.models import SignatureState, Visibility
from tests.exports.test_csv import organise
from tests.helpers import add_letter, add_signature
from tests.html import parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

ORGANISER = "counter@example.org"
SLUG = "counted"


@pytest.fixture
def letter_id(engine: Engine) -> int:
    return add_letter(engine, SLUG, goal=10)


@pytest.fixture
def organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_id: int
) -> TestClient:
    add_organiser(engine, ORGANISER)
    organise(engine, ORGANISER, letter_id)
    sign_in(client, ORGANISER, worker, smtp)
    return client


def table_rows(html: str, caption: str) -> list[list[str]]:
    for table in parse(html).find_all("table"):
        [found] = table.find_all("caption")
        if found.text().strip() == caption:
            return [
                [cell.text().strip() for cell in row.find_all("td")] for row in table.find_all("tr")
            ][1:]
    raise AssertionError(f"no table {caption!r}")


def test_the_dashboard_counts_what_is_stored(
    organiser: TestClient, engine: Engine, letter_id: int
) -> None:
    now = utcnow()
    for n in range(3):  # three today
        add_signature(engine, SLUG, name=f"Today {n}", email=f"t{n}@example.org", country="FR")
    add_signature(
        engine,
        SLUG,
        name="Ten Days Ago",
        email="ten@example.org",
        confirmed_at=now - timedelta(days=10),
        country="DE",
    )
    add_signature(
        engine,
        SLUG,
        name="Long Ago",
        email="old@example.org",
        confirmed_at=now - timedelta(days=90),  # outside the chart, inside the totals
    )
    add_signature(
        engine,
        SLUG,
        name="Secret Name",
        email="secret@example.org",
        visibility=Visibility.COUNTED_ONLY,
        country="FR",
    )
    add_signature(
        engine, SLUG, name="Pending Person", email="wait@example.org", state=SignatureState.PENDING
    )
    add_signature(
        engine,
        SLUG,
        name="Withdrawn Person",
        email="gone@example.org",
        state=SignatureState.WITHDRAWN,
    )
    other = add_letter(engine, "other")
    add_signature(engine, "other", name="Elsewhere", email="else@example.org", country="FR")

    page = organiser.get(f"/organise/letters/{letter_id}/dashboard")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    figures = parse(html).find_all("dd")
    texts = [dd.text().strip() for dd in figures]
    assert texts[0] == "6" and texts[1] == "1"  # confirmed, pending
    assert texts[2].startswith("86")  # 6 of 7
    assert "6 of 10 (60 %)" in " ".join(texts[3].split())

    per_day = table_rows(html, "Confirmed signatures per day (UTC)")
    assert len(per_day) == 60
    assert per_day[0] == [now.date().isoformat(), "4"]
    assert per_day[10] == [(now.date() - timedelta(days=10)).isoformat(), "1"]
    assert sum(int(count) for _, count in per_day) == 5

    svg = parse(html).find_all("svg")[0]
    [title] = svg.find_all("title")[:1]
    assert "last 60 days" in title.text()
    assert svg.attrs["role"] == "img" and svg.find_all("desc")
    assert len(svg.find_all("rect")) == 2  # two days with signatures

    assert table_rows(html, "Confirmed signatures by country, most first") == [
        ["France", "4"],
        ["Not given", "1"],  # ties in code order: "" before "DE"
        ["Germany", "1"],
    ]
    latest = [row[0] for row in table_rows(html, "The latest confirmed signatures, newest first")]
    assert "Counted, not named" in latest and "Today 0" in latest
    assert (
        "Secret Name" not in html
        and "Pending Person" not in html
        and "Withdrawn Person" not in html
    )
    assert "Elsewhere" not in html
    assert other != letter_id


def test_an_empty_letter_has_a_flat_chart(organiser: TestClient, letter_id: int) -> None:
    page = organiser.get(f"/organise/letters/{letter_id}/dashboard")
    assert page.status_code == 200
    assert "No signatures yet" in page.text
    assert not parse(page.text).find_all("svg")[0].find_all("rect")


def test_bars_scale_to_the_busiest_day() -> None:
    today = utcnow().date()
    chart = bar_chart([(today - timedelta(days=2), 1), (today - timedelta(days=1), 4), (today, 0)])
    assert [bar.height for bar in chart.bars] == [
        (chart.baseline - chart.top) / 4,
        chart.baseline - chart.top,
        0,
    ]
    assert chart.peak == 4 and all(bar.y + bar.height == chart.baseline for bar in chart.bars)


def test_another_organisers_dashboard_is_not_found(organiser: TestClient, engine: Engine) -> None:
    other = add_letter(engine, "theirs")
    add_signature(engine, "theirs", name="Their Signer", email="their@example.org")
    response = organiser.get(f"/organise/letters/{other}/dashboard")
    assert response.status_code == 404 and "Their Signer" not in response.text
