"""The letter page, shared by its GET route and by the sign form when it needs correcting;
and how a public page learns the language its reader chose."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session
from starlette.responses import Response

from app.config import Settings
from app.counters import service as counters
from app.kit.caching import cacheable
from app.kit.pages import render_page
from app.letters.languages import chrome_locale
from app.letters.schemas import LetterPublic
from app.signatures import service as signatures
from app.signatures.schemas import SignForm, country_names, empty_form

LATEST_SIGNERS = 10


def requested_language(request: Request) -> str:
    """The ``lang`` a link asked for (checked against the letter's languages by the service;
    anything else means the letter's own)."""
    return request.query_params.get("lang", "")[:20]


def render_letter_page(
    request: Request,
    session: Session,
    letter: LetterPublic,
    *,
    form: SignForm | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    """The page as every visitor sees it (no form values, no notice) is shared-cacheable, with
    an ETag; a form sent back to be corrected holds what one person typed, so is never stored."""
    count = counters.totals(session, letter_ids=[letter.id])[letter.id]  # lags by seconds
    settings: Settings = request.app.state.settings
    latest = signatures.latest_public_signers(session, letter_id=letter.id, limit=LATEST_SIGNERS)
    locale = chrome_locale(letter.language)
    personal = form is not None or bool(notice) or status_code != 200
    response = render_page(
        request,
        "letters/show.html",
        {
            "letter": letter,
            "count": count,
            "latest": latest,
            "form": form or empty_form(),
            "countries": country_names(locale),
            "notice": notice,
            "lang_query": letter.lang_query,
            "embed_codes": counters.embed_codes(base_url=settings.base_url, slug=letter.slug),
        },
        status_code=status_code,
        no_store=personal,
        locale=locale,
    )
    return response if personal else cacheable(request, response, page=True)
