"""Downloads of a letter's signatures for its organisers; each download is audit-logged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from app.config import Settings
from app.db import SessionDep
from app.exports.csv import csv_chunks
from app.letters import service as letters
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.signatures.models import SignatureState
from app.signatures.reports import export_batches

router = APIRouter(prefix="/organise")


@router.get("/letters/{letter_id}/signatures.csv")
def signatures_csv(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: int,
    include: str = "",
) -> Response:
    """Confirmed signatures; ``?include=pending`` adds those still waiting for confirmation.

    The audit entry is committed with the request's session before the first byte leaves;
    the rows are then read in batches with their own short sessions (reports.export_batches)."""
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    found = letters.list_letters(session, letter_ids=[letter_id])
    if not found:
        raise service.NotAllowed(str(letter_id))
    states = [SignatureState.CONFIRMED]
    if include == "pending":
        states.append(SignatureState.PENDING)
    service.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="export.csv",
        detail=", ".join(state.value for state in states),
    )
    settings: Settings = request.app.state.settings
    batches = export_batches(
        request.app.state.engine, letter_id=letter_id, states=states, keyring=settings.keyring()
    )
    return StreamingResponse(
        csv_chunks(batches),
        media_type="text/csv; charset=utf-8",
        headers={
            "cache-control": "no-store",
            "x-robots-tag": "noindex",
            "content-disposition": f'attachment; filename="{found[0].slug}-signatures.csv"',
        },
    )
