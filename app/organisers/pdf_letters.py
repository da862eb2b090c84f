"""PDF letters from the workspace: start an export from the dashboard, watch it (the page
refreshes itself, no script), download each recipient's file through an expiring link.

A download link is an itsdangerous token of its own purpose naming the file and the organiser
it was shown to; it works only with that organiser's session, on a letter they still organise,
for an hour (``pdf_download_link_minutes``). Starting an export and every download go into the
letter's audit log. The work itself runs in the job workers, never here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import FileResponse, RedirectResponse, Response

from app.db import SessionDep
from app.exports.pdf.models import PdfExportState
from app.exports.pdf.service import (
    ExportNotFound,
    ExportProgress,
    ExportRefused,
    FileInfo,
    export_progress,
    files_for,
    latest_exports,
    start_export,
)
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.security import csrf_valid
from app.kit.state import app_settings, app_tokens
from app.kit.tokens import Purpose, TokenError
from app.letters import service as letters
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.dashboard import render_dashboard
from app.organisers.pdf_panel import ALL, PdfForm, recipient_choices
from app.organisers.recipients import EXPIRED_FORM
from app.organisers.service import CurrentOrganiser

router = APIRouter(prefix="/organise")

REFRESH_SECONDS = 3
RUNNING = (PdfExportState.QUEUED, PdfExportState.RENDERING, PdfExportState.MERGING)


class StartData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    recipient: str = ALL
    csrf_token: str = ""


@router.post("/letters/{letter_id}/pdf")
def start_pdf_export(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: int,
    data: Annotated[StartData, Form()],
) -> Response:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    form = PdfForm(values={"recipient": data.recipient[:20]})
    chosen = _chosen_recipients(session, letter_id=letter_id, form=form)
    if not csrf_valid(request, data.csrf_token):
        form.errors["recipient"] = EXPIRED_FORM
    elif any(export.state in RUNNING for export in latest_exports(session, letter_id=letter_id)):
        form.errors["recipient"] = N_(
            "PDF letters of this letter are being made already: wait until they are done."
        )
    if form.errors:
        return render_dashboard(
            request, session, letter_id=letter_id, pdf_form=form, status_code=400
        )
    try:
        export_id = start_export(
            session, letter_id=letter_id, recipient_ids=chosen, requested_by=organiser.id
        )
    except ExportRefused as exc:
        form.errors["recipient"] = str(exc)
        return render_dashboard(
            request, session, letter_id=letter_id, pdf_form=form, status_code=400
        )
    which = "all recipients" if chosen is None else f"recipient {chosen[0]}"
    service.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="export.pdf",
        detail=f"export {export_id}: {which}",
    )
    return RedirectResponse(
        f"/organise/letters/{letter_id}/pdf/{export_id}?watch=1", status_code=303
    )


def _chosen_recipients(session: SessionDep, *, letter_id: int, form: PdfForm) -> list[int] | None:
    """None for all recipients; the one chosen otherwise (an error on the form if unknown)."""
    value = form.values["recipient"]
    if value == ALL:
        return None
    known = {choice.id for choice in recipient_choices(session, letter_id=letter_id)}
    if not value.isdigit() or int(value) not in known:
        form.errors["recipient"] = N_("Choose one of this letter's recipients, or all of them.")
        return None
    return [int(value)]


def _export_of_letter(session: SessionDep, *, letter_id: int, export_id: int) -> ExportProgress:
    try:
        progress = export_progress(session, export_id)
    except ExportNotFound as exc:
        raise service.NotAllowed(str(export_id)) from exc
    if progress.letter_id != letter_id:
        raise service.NotAllowed(str(export_id))
    return progress


@router.api_route("/letters/{letter_id}/pdf/{export_id}", methods=["GET", "HEAD"])
def pdf_export_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: int,
    export_id: int,
    watch: str = "",
) -> Response:
    """``?watch=1`` (where starting an export leads) reloads the page every few seconds until
    the export ends, with a link that stops it: a page that reloads itself unasked fails WCAG
    2.2.1 (technique F41), so without ``watch`` it waits for the organiser's click."""
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    progress = _export_of_letter(session, letter_id=letter_id, export_id=export_id)
    letter = letters.get_summary_by_id(session, letter_id=letter_id)
    files = files_for(session, export_id) if progress.state is PdfExportState.DONE else []
    tokens = app_tokens(request)
    context = {
        "letter": letter,
        "export": progress,
        "files": files,
        "links": {
            file.id: tokens.make(Purpose.PDF_DOWNLOAD, _token_payload(file.id, organiser))
            for file in files
            if file.finished_at is not None and file.path
        },
        "refresh": REFRESH_SECONDS if watch == "1" and not progress.finished else None,
        "page": f"/organise/letters/{letter_id}/pdf/{export_id}",
        "link_minutes": round(app_settings(request).pdf_download_link_minutes),
        "keep_days": f"{app_settings(request).pdf_keep_days:g}",
    }
    return render_page(request, "organise/pdf_export.html", context, form=True)


def _token_payload(file_id: int, organiser: CurrentOrganiser) -> str:
    return f"{file_id}.{organiser.id}"


@router.get("/letters/{letter_id}/pdf/{export_id}/files/{file_id}")
def download_pdf(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: int,
    export_id: int,
    file_id: int,
    token: str = "",
) -> Response:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    _export_of_letter(session, letter_id=letter_id, export_id=export_id)
    settings = app_settings(request)
    try:
        payload = app_tokens(request).read(
            Purpose.PDF_DOWNLOAD, token, max_age_seconds=settings.pdf_download_link_minutes * 60
        )
    except TokenError as exc:
        return _link_refused(request, letter_id, export_id, expired=exc.expired)
    if payload != _token_payload(file_id, organiser):
        return _link_refused(request, letter_id, export_id, expired=False)
    file = next((each for each in files_for(session, export_id) if each.id == file_id), None)
    path = file.absolute_path(settings) if file is not None and file.path else None
    if file is None or file.finished_at is None or path is None or not path.is_file():
        raise service.NotAllowed(str(file_id))
    service.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="export.pdf.download",
        detail=f"export {export_id}, file {file_id} ({file.recipient_name})",
    )
    return FileResponse(
        path,
        media_type="application/pdf",
        headers={
            "content-disposition": _attachment(file),
            "cache-control": "no-store",
            "x-robots-tag": "noindex",
        },
    )


def _attachment(file: FileInfo) -> str:
    """An ASCII file name for every browser, and the UTF-8 one (RFC 6266) for those that can."""
    readable = f"{file.letter_slug} - {file.recipient_name} - {file.verification_code}.pdf"
    folded = unicodedata.normalize("NFKD", readable).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9.]+", "-", folded).strip("-") or "letter.pdf"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(readable, safe='')}"


def _link_refused(request: Request, letter_id: int, export_id: int, *, expired: bool) -> Response:
    title = (
        N_("This download link has expired") if expired else N_("This download link is not yours")
    )
    message = N_(
        "Download links work for a limited time, and only for the organiser they were shown to."
        " Open the export's page again for fresh links."
    )
    return render_page(
        request,
        "organise/pdf_link_refused.html",
        {
            "title": title,
            "message": message,
            "back": f"/organise/letters/{letter_id}/pdf/{export_id}",
        },
        status_code=410 if expired else 403,
        no_store=True,
    )
