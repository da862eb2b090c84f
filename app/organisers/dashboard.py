"""A letter's dashboard: counts, confirmation rate, progress, signatures per day as an SVG
chart drawn here (no script, no third party), by country, and the latest signers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from app.db import SessionDep
from app.kit.pages import render_page
from app.letters import service as letters
from app.letters.languages import language_labels
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.pdf_panel import PdfForm, pdf_panel
from app.signatures.reports import dashboard
from app.signatures.schemas import country_names

router = APIRouter(prefix="/organise")

DAYS = 60
CHART_WIDTH = 640
CHART_HEIGHT = 200
PLOT_LEFT = 48  # room for the y axis' labels
PLOT_BOTTOM = 24  # room for the dates
PLOT_TOP = 8
PLOT_RIGHT = 24  # room for the last date's label


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    plot_left: int
    baseline: int
    top: int
    peak: int
    bars: list[Bar]
    ticks: list[Bar]  # the bars whose date is written under the axis


def bar_chart(per_day: list[tuple[date, int]]) -> Chart:
    """Geometry for one bar per day, scaled to the busiest day (a flat zero line if none)."""
    peak = max((count for _, count in per_day), default=0)
    baseline = CHART_HEIGHT - PLOT_BOTTOM
    usable = baseline - PLOT_TOP
    slot = (CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT) / max(len(per_day), 1)
    bars = []
    for index, (day, count) in enumerate(per_day):
        height = usable * count / peak if peak else 0.0
        bars.append(
            Bar(
                day=day,
                count=count,
                x=round(PLOT_LEFT + index * slot + slot * 0.1, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
            )
        )
    ticks = [bar for index, bar in enumerate(bars) if index % 10 == 0 or index == len(bars) - 1]
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        plot_left=PLOT_LEFT,
        baseline=baseline,
        top=PLOT_TOP,
        peak=peak,
        bars=bars,
        ticks=ticks,
    )


def _percent(part: int, whole: int) -> str:
    """ "0.3", "42", "100": a tenth of a percent while small, so early progress shows."""
    share = min(100.0, 100 * part / whole)
    return f"{share:.1f}" if 0 < share < 10 else str(round(share))


@router.api_route("/letters/{letter_id}/dashboard", methods=["GET", "HEAD"])
def letter_dashboard(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: int
) -> Response:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    return render_dashboard(request, session, letter_id=letter_id)


def render_dashboard(
    request: Request,
    session: Session,
    *,
    letter_id: int,
    pdf_form: PdfForm | None = None,
    status_code: int = 200,
) -> Response:
    """The page, for a letter the caller has checked the organiser may see; ``pdf_form`` brings
    back the "Make PDF letters" form with its error (app/organisers/pdf_letters.py)."""
    found = letters.list_letters(session, letter_ids=[letter_id])
    if not found:
        raise service.NotAllowed(str(letter_id))
    figures = dashboard(session, letter_id=letter_id, days=DAYS)
    # Offline signatures have no confirmation step: the rate is of those signed online.
    online = figures.confirmed - figures.offline
    submitted = online + figures.pending
    goal = found[0].goal
    context = {
        "letter": found[0],
        "figures": figures,
        "rate": round(100 * online / submitted) if submitted else None,
        "online": online,
        "progress": _percent(figures.confirmed, goal) if goal else None,
        "chart": bar_chart(figures.per_day),
        "days": DAYS,
        "in_window": sum(count for _, count in figures.per_day),
        "countries": country_names(),
        "languages": language_labels([code for code, _ in figures.by_language]),
        "pdf": pdf_panel(session, letter_id=letter_id, form=pdf_form),
    }
    response = render_page(
        request, "organise/dashboard.html", context, form=True, status_code=status_code
    )
    response.headers["x-robots-tag"] = "noindex"
    return response
