"""The public API: read-only JSON about public letters, for any site (CORS ``*``), cached like
the counters (strong ETag, 304, short public lifetime); never a cookie, an address, a pending
signature or a draft. Its OpenAPI document is /openapi.json; /docs renders it (app.counters.docs).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from app.counters import api_schemas as out
from app.counters.public import public_counts
from app.db import SessionDep
from app.kit.caching import cacheable
from app.kit.state import app_settings
from app.letters import service as letters
from app.letters.listing import LetterListed, public_letters
from app.signatures.public import Position, public_signers_after

router = APIRouter(prefix="/api", tags=["letters"])

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "ETag",
    "cross-origin-resource-policy": "cross-origin",
}
COUNTRY_MINIMUM = 5
COUNTRY_NOTE = (
    "Countries with fewer than 5 signatures, and signatures that name no country, are left out"
    " so that no small group of signers can be singled out. They are counted in signatures."
)
MAX_CURSOR_LENGTH = 120
MAX_ROW_ID = 2_147_483_647  # ids are 32-bit; a bigger number would overflow SQLite's driver
Endpoint = Callable[..., Response]
RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag sent in If-None-Match is current."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": out.ApiError, "description": "No public letter has this slug."},
}


def _json(request: Request, model: BaseModel) -> Response:
    body = model.model_dump_json().encode()
    response = Response(body, media_type="application/json")
    return cacheable(request, response, extra_headers=CORS_HEADERS)


def _item(request: Request, letter: LetterListed, count: int) -> dict[str, Any]:
    return {
        "slug": letter.slug,
        "title": letter.title,
        "summary": letter.summary,
        "url": f"{app_settings(request).base_url}/letters/{letter.slug}",
        "languages": [letter.language],
        "status": letter.status.value,
        "accepting": letter.accepting,
        "signatures": count,
        "goal": letter.goal,
        "published_at": letter.published_at,
        "closes_at": letter.closes_at,
    }


def _one(session: SessionDep, slug: str) -> LetterListed:
    found = public_letters(session, slug=slug)
    if not found:
        raise letters.LetterNotFound(slug)
    return found[0]


def get_and_head(path: str, **documented: Any) -> Callable[[Endpoint], Endpoint]:
    """GET, documented; HEAD, the same answer without its body, left out of the document
    (one operation per path keeps the OpenAPI operation ids unique)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], **documented)
        router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
        return endpoint

    return register


@get_and_head(
    "/letters",
    operation_id="listLetters",
    response_model=out.LetterList,
    responses=RESPONSES,
    summary="Public letters",
)
def api_letters(request: Request, session: SessionDep) -> Response:
    """Open letters (accepting signatures) first, then closed and delivered ones; newest
    publication first within each. Drafts never appear."""
    listed = public_letters(session)
    counts = public_counts(session, letter_ids=[letter.id for letter in listed])
    listed.sort(key=lambda letter: not letter.accepting)  # stable: keeps newest first
    items = [_item(request, letter, counts[letter.id].signatures) for letter in listed]
    return _json(request, out.LetterList.model_validate({"letters": items}))


@get_and_head(
    "/letters/{slug}",
    operation_id="getLetter",
    response_model=out.LetterDetail,
    responses=RESPONSES | NOT_FOUND,
    summary="One public letter, with its counts",
)
def api_letter(request: Request, session: SessionDep, slug: str) -> Response:
    """The letter, its recipients (no postal address), first signatories and deliveries, and
    its counts: by country (small ones left out, see ``by_country.note``) and per day."""
    listed = _one(session, slug)
    letter = letters.get_public_letter(session, slug=slug)
    counts = public_counts(session, letter_ids=[listed.id], detailed=True)[listed.id]
    since = listed.published_at.date() if listed.published_at else None
    detail = _item(request, listed, counts.signatures) | {
        "updated_at": counts.updated_at,
        "recipients": [asdict(r) for r in letter.recipients],
        "first_signatories": [asdict(f) for f in letter.first_signatories],
        "publisher_name": letter.publisher_name,
        "deliveries": [asdict(d) for d in letter.deliveries],
        "by_country": {
            "minimum": COUNTRY_MINIMUM,
            "countries": [
                {"country": country, "signatures": number}
                for country, number in counts.by_country
                if country and number >= COUNTRY_MINIMUM
            ],
            "note": COUNTRY_NOTE,
        },
        "per_day": [
            {"day": day, "signatures": number}
            for day, number in counts.per_day
            if since is None or day >= since
        ],
    }
    return _json(request, out.LetterDetail.model_validate(detail))


def encode_cursor(position: Position) -> str:
    raw = f"{position.confirmed_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position | None:
    """None for anything that is not a cursor we made (its content is not secret: it names
    a public signer's confirmation time and a row number)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, number = raw.partition("|")
        when = datetime.fromisoformat(moment)
        row_id = int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if when.tzinfo is None or not number.isdigit() or row_id > MAX_ROW_ID:
        return None
    position = Position(confirmed_at=when, id=row_id)
    # Only the exact spelling this API makes: no padding, spaces, NULs or other variants.
    return position if encode_cursor(position) == cursor else None


@get_and_head(
    "/letters/{slug}/signatures",
    operation_id="listSigners",
    response_model=out.SignerPage,
    responses=RESPONSES
    | NOT_FOUND
    | {400: {"model": out.ApiError, "description": "The cursor is not one this API gave."}},
    summary="Publicly named signers",
)
def api_signers(
    request: Request,
    session: SessionDep,
    slug: str,
    cursor: Annotated[str, Query(description="From the previous page's next_cursor.")] = "",
    limit: Annotated[int, Query(ge=1, le=200, description="Signers per page.")] = 50,
) -> Response:
    """Only signers who chose to be named publicly and whom no organiser has hidden, oldest
    confirmation first. Pages follow an opaque cursor, so new signatures never shift them."""
    listed = _one(session, slug)
    after = None
    if cursor:
        after = decode_cursor(cursor)
        if after is None:
            return JSONResponse(
                {"error": "This cursor is not valid."}, status_code=400, headers=CORS_HEADERS
            )
    found = public_signers_after(session, letter_id=listed.id, after=after, limit=limit)
    following = encode_cursor(found.next) if found.next else None
    page = {
        "signers": [asdict(signer) for signer in found.signers],
        "next_cursor": following,
        "next": (
            f"/api/letters/{listed.slug}/signatures?cursor={following}&limit={limit}"
            if following
            else None
        ),
    }
    return _json(request, out.SignerPage.model_validate(page))


@router.options("/{path:path}", include_in_schema=False)
def preflight(path: str) -> Response:
    """CORS preflight: a conditional request (If-None-Match) from another site needs one."""
    return Response(
        status_code=204,
        headers=CORS_HEADERS
        | {
            "access-control-allow-methods": "GET, HEAD, OPTIONS",
            "access-control-allow-headers": "If-None-Match, If-Modified-Since",
            "access-control-max-age": "86400",
        },
    )
