"""Offline signatures in the workspace: the overview (attestations, imports), entering one
signature at a time, importing a CSV file, the file's template, and undoing an import.

Every route checks that the organiser organises the letter (others see 'not found'); every
change goes to the audit log, by id and count, never by a signer's name."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep, open_session, utcnow
from app.kit.i18n import N_
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.kit.state import app_settings
from app.letters import service as letters
from app.letters.models import LetterStatus
from app.letters.schemas import LetterSummary
from app.organisers import service
from app.organisers.auth import OrganiserDep, get_organiser
from app.organisers.offline_forms import (
    ATTESTATION_FIELDS,
    IMPORT_FIELDS,
    NEW,
    SIGNER_FIELDS,
    OfflineForm,
    SignatureFormData,
    Upload,
    empty_form,
    import_form,
    parse_attestation,
    parse_signature_form,
    read_upload,
)
from app.organisers.pages import workspace_page
from app.organisers.service import CurrentOrganiser
from app.organisers.workspace import EXPIRED_FORM
from app.signatures import offline
from app.signatures.offline_csv import COLUMNS, TEMPLATE, CsvReport, check_csv, clean_rows
from app.signatures.offline_csv import content_hash as csv_hash
from app.signatures.schemas import country_names

router = APIRouter(prefix="/organise/letters/{letter_id}/offline")

# The import's address, which may carry a body as large as the file limit (see main.py).
IMPORT_PATH = re.compile(r"/organise/letters/[0-9]+/offline/import")
DELIVERED = N_("This letter has been delivered: no more signatures can be added to it.")
IMPORTED_BEFORE = N_(
    "This file was imported into this letter before. Tick the box below and choose the file"
    " again if you really mean to add its signatures a second time."
)


def _letter(session: Session, organiser: CurrentOrganiser, letter_id: int) -> LetterSummary:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    return letters.get_summary_by_id(session, letter_id=letter_id)


def _record(
    session: Session, organiser: CurrentOrganiser, letter_id: int, action: str, detail: str
) -> None:
    service.record(
        session, organiser_id=organiser.id, letter_id=letter_id, action=action, detail=detail
    )


def _known(session: Session, letter_id: int) -> set[int]:
    return offline.attestation_ids(session, letter_id=letter_id)


def _base(letter_id: int) -> str:
    return f"/organise/letters/{letter_id}/offline"


@router.api_route("", methods=["GET", "HEAD"])
def overview(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    imported: int = 0,
) -> Response:
    letter = _letter(session, organiser, letter_id)
    imports = offline.list_imports(session, letter_id=letter_id)
    context = {
        "letter": letter,
        "offline_count": offline.count_offline(session, letter_id=letter_id),
        "attestations": offline.list_attestations(session, letter_id=letter_id),
        "imports": imports,
        "just_imported": next((item for item in imports if item.id == imported), None),
    }
    return workspace_page(request, "organise/offline.html", context)


def _entry_page(
    request: Request,
    session: Session,
    letter: LetterSummary,
    form: OfflineForm,
    *,
    added: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    context = {
        "letter": letter,
        "form": form,
        "attestations": offline.list_attestations(session, letter_id=letter.id),
        "countries": country_names(),
        "added": added,
        "notice": notice or (DELIVERED if letter.status is LetterStatus.DELIVERED else ""),
    }
    return workspace_page(request, "organise/offline_new.html", context, status=status)


@router.api_route("/new", methods=["GET", "HEAD"])
def entry_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    attestation: str = "",
    added: str = "",
) -> Response:
    letter = _letter(session, organiser, letter_id)
    known = _known(session, letter_id)
    chosen = attestation if attestation.isdigit() and int(attestation) in known else ""
    if not chosen and known:
        chosen = str(max(known))  # the newest: most often the stack of forms at hand
    form = empty_form((*SIGNER_FIELDS, *ATTESTATION_FIELDS), attestation=chosen or NEW)
    return _entry_page(request, session, letter, form, added=added[:120])


@router.post("/new")
def add_signature(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[SignatureFormData, Form()],
) -> Response:
    letter = _letter(session, organiser, letter_id)
    form, attestation_id, attestation, row = parse_signature_form(
        data.model_dump(), known=_known(session, letter_id), today=utcnow().date()
    )
    if not csrf_valid(request, data.csrf_token):
        return _entry_page(request, session, letter, form, notice=EXPIRED_FORM, status=400)
    if letter.status is LetterStatus.DELIVERED:
        return _entry_page(request, session, letter, form, status=409)
    if row is None:
        return _entry_page(request, session, letter, form, status=400)
    attestation_id = _attestation(session, organiser, letter_id, attestation_id, attestation)
    language = letters.editable_values(session, letter_id=letter_id)["language"]
    signature_id = offline.add_signature(
        session, letter_id=letter_id, attestation_id=attestation_id, row=row, language=language
    )
    detail = f"signature {signature_id} (attestation {attestation_id})"
    _record(session, organiser, letter_id, "offline.added", detail)
    return RedirectResponse(
        f"{_base(letter_id)}/new?attestation={attestation_id}&added={signature_id}",
        status_code=303,
    )


def _attestation(
    session: Session,
    organiser: CurrentOrganiser,
    letter_id: int,
    chosen: int | None,
    new: offline.AttestationInput | None,
) -> int:
    """The chosen attestation's id, or the new one's, created (and audited) now."""
    if new is None:
        assert chosen is not None
        return chosen
    created = offline.create_attestation(
        session, letter_id=letter_id, data=new, organiser_id=organiser.id
    )
    _record(session, organiser, letter_id, "attestation.created", f"attestation {created}")
    return created


def _import_page(
    request: Request,
    session: Session,
    letter: LetterSummary,
    form: OfflineForm,
    *,
    report: CsvReport | None = None,
    earlier: list[offline.ImportLine] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    settings = app_settings(request)
    context = {
        "letter": letter,
        "form": form,
        "attestations": offline.list_attestations(session, letter_id=letter.id),
        "report": report,
        "earlier": earlier or [],
        "columns": COLUMNS,
        "max_megabytes": f"{settings.offline_import_max_bytes / 1_000_000:g}",
        "max_rows": settings.offline_import_max_rows,
        "notice": notice or (DELIVERED if letter.status is LetterStatus.DELIVERED else ""),
    }
    return workspace_page(request, "organise/offline_import.html", context, status=status)


@router.api_route("/import", methods=["GET", "HEAD"])
def import_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    letter = _letter(session, organiser, letter_id)
    known = _known(session, letter_id)
    form = empty_form(IMPORT_FIELDS, attestation=str(max(known)) if known else NEW)
    return _import_page(request, session, letter, form)


def organiser_without_lock(request: Request) -> CurrentOrganiser:
    """The import's sign-in check, on a read-only session. The request's usual session is a
    writer's: on SQLite it would hold the one writer lock for the whole upload and check, and
    every signer would wait behind a slow upload."""
    with open_session(request.app.state.engine) as session:
        return get_organiser(request, session)


@router.post("/import")
def import_file(
    request: Request,
    organiser: Annotated[CurrentOrganiser, Depends(organiser_without_lock)],
    letter_id: RowId,
    upload: Annotated[Upload, Depends(read_upload)],
) -> Response:
    """Check every row; store nothing unless the whole file is clean, then all of it at once.

    The upload is read and checked with no writer's transaction open; only storing the clean
    file takes one (its own, committed here), so signing goes on meanwhile."""
    engine = request.app.state.engine
    with open_session(engine) as session:
        letter = _letter(session, organiser, letter_id)
        form = import_form(upload)
        if upload.error:  # too large, or no file: said first, as a dropped body has no token
            form.errors["file"] = upload.error
            return _import_page(request, session, letter, form, status=400)
        if not csrf_valid(request, upload.fields.get("csrf_token", "")):
            return _import_page(request, session, letter, form, notice=EXPIRED_FORM, status=400)
        if letter.status is LetterStatus.DELIVERED:
            return _import_page(request, session, letter, form, status=409)
        today = utcnow().date()
        chosen, new = parse_attestation(form, known=_known(session, letter_id), today=today)
        report = check_csv(upload.data, max_rows=app_settings(request).offline_import_max_rows)
        del upload.data
        if not report.clean or form.errors:
            return _import_page(request, session, letter, form, report=report, status=400)
        digest = csv_hash(report.text)
        earlier = offline.earlier_imports(session, letter_id=letter_id, file_sha256=digest)
        if earlier and form.values["again"] != "yes":
            return _import_page(
                request, session, letter, form, report=report, earlier=earlier,
                notice=IMPORTED_BEFORE, status=409,
            )  # fmt: skip
    with open_session(engine, write=True) as session:
        letter = _letter(session, organiser, letter_id)  # still theirs
        offline.serialise_imports(session, letter_id=letter_id)
        again = offline.earlier_imports(session, letter_id=letter_id, file_sha256=digest)
        if len(again) > len(earlier) and form.values["again"] != "yes":  # imported meanwhile
            return _import_page(
                request, session, letter, form, report=report, earlier=again,
                notice=IMPORTED_BEFORE, status=409,
            )  # fmt: skip
        attestation_id = _attestation(session, organiser, letter_id, chosen, new)
        import_id, count = offline.import_rows(
            session,
            letter_id=letter_id,
            attestation_id=attestation_id,
            rows=clean_rows(report.text),
            language=letters.editable_values(session, letter_id=letter_id)["language"],
            file_name=upload.file_name,
            file_sha256=digest,
            organiser_id=organiser.id,
        )
        detail = f"import {import_id}: {count} signatures (attestation {attestation_id})"
        detail += f", file sha256 {digest[:12]}"
        _record(session, organiser, letter_id, "offline.imported", detail)
        session.commit()
    return RedirectResponse(f"{_base(letter_id)}?imported={import_id}", status_code=303)


@router.api_route("/template.csv", methods=["GET", "HEAD"])
def template_csv(session: SessionDep, organiser: OrganiserDep, letter_id: RowId) -> Response:
    _letter(session, organiser, letter_id)
    return Response(
        ("\ufeff" + TEMPLATE).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "cache-control": "no-store",
            "content-disposition": 'attachment; filename="offline-signatures-template.csv"',
        },
    )


@router.api_route("/imports/{import_id}/undo", methods=["GET", "HEAD"])
def undo_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    import_id: RowId,
) -> Response:
    """What undoing the import will delete, and the button that does it."""
    letter = _letter(session, organiser, letter_id)
    item = offline.get_import(session, letter_id=letter_id, import_id=import_id)
    [attestation] = offline.list_attestations(
        session, letter_id=letter_id, ids=[item.attestation_id]
    )
    context = {"letter": letter, "item": item, "attestation": attestation}
    return workspace_page(request, "organise/offline_undo.html", context)


@router.post("/imports/{import_id}/undo")
def undo_import(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    import_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _letter(session, organiser, letter_id)
    offline.get_import(session, letter_id=letter_id, import_id=import_id)
    if csrf_valid(request, csrf_token):
        deleted = offline.undo_import(session, letter_id=letter_id, import_id=import_id)
        if deleted is not None:  # None: undone before (a second press changes nothing)
            _record(
                session, organiser, letter_id, "offline.import_undone",
                f"import {import_id}: {deleted} signatures deleted",
            )  # fmt: skip
    return RedirectResponse(_base(letter_id), status_code=303)
