"""The public verify page of a delivered PDF letter: ``/letters/{slug}/verify/{code}``.

Anyone holding the PDF (or its printout) can see what was exported under the code printed in
its footer, and check a file against it: by uploading it (hashed as it streams in, never kept
or opened) or by pasting its SHA-256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep, open_session
from app.exports.pdf.service import normal_code
from app.exports.pdf.upload import UploadRefused, hash_upload
from app.exports.pdf.verify import (
    MAX_PASTE_CHARS,
    VerifiedExport,
    find_export,
    parse_sha256,
    same_hash,
)
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.security import CSRF_FIELD, csrf_valid, relative_location
from app.kit.state import app_settings

router = APIRouter()

# The one route that reads a large body (app/kit/security.py lets it; the admission line lets
# it wait for its bytes without holding a place that other requests need).
UPLOAD_PATH = re.compile(r"^/letters/[^/]+/verify/[^/]+/file$")
# Headroom above the file for the multipart framing and the CSRF field.
UPLOAD_FRAMING_BYTES = 64 * 1024
UPLOAD_SECONDS = 300

EXPIRED = N_("The form had expired. Please try again.")
BUSY = N_("Several files are being checked right now. Please try again in a minute.")
TOO_LARGE = N_(
    "This file is larger than %(mb)s MB, the most this page checks. Paste its SHA-256"
    " fingerprint instead (see below)."
)


@dataclass
class PasteForm:
    values: dict[str, str] = field(default_factory=lambda: {"sha256": ""})
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    matches: bool
    sha256: str
    how: str  # "upload" or "paste"
    looks_like_pdf: bool = True


class PasteData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sha256: str = ""
    csrf_token: str = ""


def upload_limit_bytes(max_mb: int) -> int:
    """What the security middleware lets this route's body reach."""
    return max_mb * 1024 * 1024 + UPLOAD_FRAMING_BYTES


def _page(
    request: Request,
    export: VerifiedExport,
    *,
    form: PasteForm | None = None,
    outcome: CheckOutcome | None = None,
    upload_error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    settings = app_settings(request)
    context = {
        "export": export,
        "form": form or PasteForm(),
        "outcome": outcome,
        "upload_error": upload_error,
        "notice": notice,
        "max_mb": settings.verify_upload_max_mb,
    }
    return render_page(request, "letters/verify.html", context, form=True, status_code=status_code)


@router.api_route("/letters/{slug}/verify", methods=["GET", "HEAD"])
def go_to_code(slug: str, code: Annotated[str, Query(max_length=60)] = "") -> Response:
    """The short form on a letter's printout: type the code, land on its page (or a 404)."""
    normal = normal_code(code) or "unknown"
    return RedirectResponse(relative_location(f"/letters/{slug}/verify/{normal}"), status_code=303)


@router.api_route("/letters/{slug}/verify/{code}", methods=["GET", "HEAD"])
def verify_page(request: Request, session: SessionDep, slug: str, code: str) -> Response:
    export = find_export(session, app_settings(request), slug=slug, code=code)
    return _page(request, export)


@router.post("/letters/{slug}/verify/{code}")
def check_pasted_hash(
    request: Request,
    session: SessionDep,
    slug: str,
    code: str,
    data: Annotated[PasteData, Form()],
) -> Response:
    export = find_export(session, app_settings(request), slug=slug, code=code)
    form = PasteForm(values={"sha256": data.sha256[:MAX_PASTE_CHARS]})
    if not csrf_valid(request, data.csrf_token):
        return _page(request, export, form=form, notice=EXPIRED, status_code=400)
    given = parse_sha256(data.sha256)
    if given is None:
        form.errors["sha256"] = (
            N_("Paste the fingerprint first.")
            if not data.sha256.strip()
            else N_("A SHA-256 fingerprint is 64 characters, 0 to 9 and a to f. Paste it whole.")
        )
        return _page(request, export, form=form, status_code=400)
    outcome = CheckOutcome(matches=same_hash(given, export.sha256), sha256=given, how="paste")
    return _page(request, export, form=form, outcome=outcome)


def _find_in_thread(request: Request, slug: str, code: str) -> VerifiedExport:
    with open_session(request.app.state.engine) as session:
        return find_export(session, app_settings(request), slug=slug, code=code)


def _upload_places(request: Request) -> anyio.CapacityLimiter:
    places: anyio.CapacityLimiter | None = getattr(request.app.state, "verify_uploads", None)
    if places is None:
        places = anyio.CapacityLimiter(app_settings(request).verify_uploads_at_once)
        request.app.state.verify_uploads = places
    return places


@router.post("/letters/{slug}/verify/{code}/file")
async def check_uploaded_file(request: Request, slug: str, code: str) -> Response:
    """Async, outside the admission line: a slow upload holds no thread and no database
    connection while its bytes arrive, only one of ``verify_uploads_at_once`` places."""
    places = _upload_places(request)
    if places.available_tokens < 1:  # refused before any work: no thread, no database
        return render_page(
            request,
            "errors/error.html",
            {"title": N_("The service is busy"), "message": BUSY},
            status_code=503,
        )
    async with places:
        export = await anyio.to_thread.run_sync(_find_in_thread, request, slug, code)
        max_mb = app_settings(request).verify_upload_max_mb
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > upload_limit_bytes(max_mb):
            return _page(request, export, upload_error=TOO_LARGE, status_code=413)
        try:
            with anyio.fail_after(UPLOAD_SECONDS):
                result = await hash_upload(request, max_file_bytes=max_mb * 1024 * 1024)
        except UploadRefused as exc:
            return _page(request, export, upload_error=str(exc), status_code=400)
        except TimeoutError:
            error = N_("The upload took too long. Paste the file's SHA-256 fingerprint instead.")
            return _page(request, export, upload_error=error, status_code=408)
    if not csrf_valid(request, result.fields.get(CSRF_FIELD)):
        return _page(request, export, notice=EXPIRED, status_code=400)
    if result.too_large:
        return _page(request, export, upload_error=TOO_LARGE, status_code=413)
    if result.file is None:
        error = N_("Choose the PDF file to check first.")
        return _page(request, export, upload_error=error, status_code=400)
    outcome = CheckOutcome(
        matches=same_hash(result.file.sha256, export.sha256),
        sha256=result.file.sha256,
        how="upload",
        looks_like_pdf=result.file.starts_like_pdf,
    )
    return _page(request, export, outcome=outcome)
