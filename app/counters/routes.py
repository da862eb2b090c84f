"""``/letters/{slug}/count.json``: cheap, cacheable, readable from any origin."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.db import SessionDep
from app.letters import service as letters
from app.signatures import service as signatures

router = APIRouter()

COUNT_MAX_AGE_SECONDS = 10


@router.api_route("/letters/{slug}/count.json", methods=["GET", "HEAD"])
def letter_count(session: SessionDep, slug: str) -> JSONResponse:
    letter = letters.get_public_summary(session, slug=slug)
    changed = signatures.count_changed_at(session, letter_id=letter.id)
    body = {
        "slug": letter.slug,
        "signatures": signatures.count_confirmed(session, letter_id=letter.id),
        "goal": letter.goal,
        "updated_at": changed.isoformat() if changed else None,
    }
    return JSONResponse(
        body,
        headers={
            "access-control-allow-origin": "*",
            "cache-control": f"public, max-age={COUNT_MAX_AGE_SECONDS}",
        },
    )
