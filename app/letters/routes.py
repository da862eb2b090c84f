"""Public pages: the list of letters, a letter, its named signers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.config import Settings
from app.counters import service as counters
from app.db import SessionDep
from app.kit.caching import cacheable
from app.kit.pages import render_page
from app.letters import service
from app.letters.languages import chrome_locale
from app.letters.pages import render_letter_page, requested_language
from app.signatures import service as signatures
from app.signatures.schemas import country_names

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"])
def list_letters(request: Request, session: SessionDep) -> Response:
    letters = service.list_public_letters(session)
    counts = counters.totals(session, letter_ids=[letter.id for letter in letters])
    rendered = render_page(request, "letters/index.html", {"letters": letters, "counts": counts})
    return cacheable(request, rendered, page=True)


@router.api_route("/letters/{slug}", methods=["GET", "HEAD"])
def show_letter(request: Request, session: SessionDep, slug: str) -> Response:
    letter = service.get_public_letter(session, slug=slug, language=requested_language(request))
    return render_letter_page(request, session, letter)


@router.api_route("/letters/{slug}/signatures", methods=["GET", "HEAD"])
def list_signers(
    request: Request,
    session: SessionDep,
    slug: str,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    letter = service.get_public_summary(session, slug=slug, language=requested_language(request))
    locale = chrome_locale(letter.language)
    settings: Settings = request.app.state.settings
    signers = signatures.public_signers_page(
        session, letter_id=letter.id, page=page, page_size=settings.signatures_page_size
    )
    rendered = render_page(
        request,
        "letters/signatures.html",
        {
            "letter": letter,
            "result": signers,
            "count": counters.totals(session, letter_ids=[letter.id])[letter.id],
            "countries": country_names(locale),
            "lang_query": letter.lang_query,
        },
        locale=locale,
    )
    # Only names their signers chose to show; a withdrawn one leaves shared caches within
    # max-age + stale-while-revalidate (app.kit.caching).
    return cacheable(request, rendered, page=True)
