"""Workspace pages for a letter's updates: list, write a draft with a preview, add versions in
other languages, see who would receive it, send it (once). Every route checks that the
organiser organises the letter and that the update belongs to it (others see 'not found');
every change goes to the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.letters import service as letters
from app.letters.schemas import LetterSummary
from app.organisers import service as organisers
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.organisers.workspace import EXPIRED_FORM
from app.updates import forms, service
from app.updates.forms import UpdateForm, UpdateFormData, parse_update_form, update_form

router = APIRouter(prefix="/organise/letters/{letter_id}/updates")


def _letter(session: SessionDep, organiser: OrganiserDep, letter_id: RowId) -> LetterSummary:
    organisers.require_letter(session, organiser=organiser, letter_id=letter_id)
    return letters.get_summary_by_id(session, letter_id=letter_id)


def letter_update(
    session: SessionDep, organiser: OrganiserDep, letter_id: RowId, update_id: RowId
) -> tuple[LetterSummary, service.UpdateView]:
    letter = _letter(session, organiser, letter_id)
    try:
        return letter, service.get_update(session, letter_id=letter_id, update_id=update_id)
    except service.UpdateNotFound:
        raise organisers.NotAllowed(f"{letter_id}/{update_id}") from None


def record_change(
    session: SessionDep, organiser: OrganiserDep, letter_id: RowId, action: str, detail: str
) -> None:
    organisers.record(
        session, organiser_id=organiser.id, letter_id=letter_id, action=action, detail=detail
    )


def redirect_to(letter_id: int, rest: str = "") -> RedirectResponse:
    return RedirectResponse(f"/organise/letters/{letter_id}/updates{rest}", status_code=303)


@router.api_route("", methods=["GET", "HEAD"])
def updates_list(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    letter = _letter(session, organiser, letter_id)
    listed = service.list_updates(session, letter_id=letter_id)
    context = {
        "letter": letter,
        "updates": listed,
        "progress": {u.id: service.progress(session, update_id=u.id) for u in listed},
        "contactable": service.contactable(session, letter_id=letter_id),
    }
    return workspace_page(request, "organise/updates.html", context)


def form_page(
    request: Request,
    *,
    letter: LetterSummary,
    form: UpdateForm,
    update: service.UpdateView | None = None,
    version_id: int | None = None,
    version_new: bool = False,
    preview: bool = False,
    notice: str = "",
    status: int = 200,
) -> Response:
    """The form for the original (``update`` None: a new one) or for one of its versions."""
    context = {
        "letter": letter,
        "form": form,
        "update": update,
        "version_id": version_id,
        "version_new": version_new,
        "preview": service.preview_html(form.values["body_markdown"]) if preview else None,
        "preview_subject": form.values["subject"] if preview else "",
        "notice": notice,
    }
    return workspace_page(request, "organise/update_form.html", context, status=status)


def checked_form(request: Request, data: UpdateFormData) -> tuple[UpdateForm, str, bool]:
    """The parsed form; a notice if the form had expired; whether to save."""
    form = parse_update_form(data.model_dump())
    if not csrf_valid(request, data.csrf_token):
        return form, EXPIRED_FORM, False
    return form, "", form.valid and data.action != "preview"


@router.api_route("/new", methods=["GET", "HEAD"])
def new_update_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    letter = _letter(session, organiser, letter_id)
    language = letters.editable_values(session, letter_id=letter_id)["language"]
    return form_page(request, letter=letter, form=update_form({"language": language}))


@router.post("/new")
def create_update(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[UpdateFormData, Form()],
) -> Response:
    letter = _letter(session, organiser, letter_id)
    form, notice, save = checked_form(request, data)
    if not save:
        status = 200 if form.valid and not notice else 400
        return form_page(
            request, letter=letter, form=form, preview=True, notice=notice, status=status
        )
    update_id = service.create_update(
        session, letter_id=letter_id, organiser_id=organiser.id, form=form
    )
    record_change(session, organiser, letter_id, "update.created", f"update {update_id}")
    return redirect_to(letter_id, f"/{update_id}")


@router.api_route("/{update_id}", methods=["GET", "HEAD"])
def update_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
) -> Response:
    letter, update = letter_update(session, organiser, letter_id, update_id)
    if update.is_draft:
        form = update_form(update.form_values())
        return form_page(request, letter=letter, form=form, update=update)
    context = {
        "letter": letter,
        "update": update,
        "body_html": service.preview_html(update.body_markdown),
        "versions": [(v, service.preview_html(v.body_markdown)) for v in update.versions],
        "progress": service.progress(session, update_id=update_id),
    }
    return workspace_page(request, "organise/update.html", context)


@router.post("/{update_id}")
def save_update(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    data: Annotated[UpdateFormData, Form()],
) -> Response:
    letter, update = letter_update(session, organiser, letter_id, update_id)
    if not update.is_draft:
        return redirect_to(letter_id, f"/{update_id}")
    form, notice, save = checked_form(request, data)
    if save:
        try:
            service.save_update(session, letter_id=letter_id, update_id=update_id, form=form)
        except service.VersionExists:
            form.errors["language"] = forms.VERSION_EXISTS
        except service.UpdateNotDraft:
            return redirect_to(letter_id, f"/{update_id}")
        else:
            record_change(session, organiser, letter_id, "update.edited", f"update {update_id}")
            return redirect_to(letter_id, f"/{update_id}")
    status = 200 if form.valid and not notice else 400
    return form_page(
        request, letter=letter, form=form, update=update, preview=True, notice=notice,
        status=status,
    )  # fmt: skip


@router.post("/{update_id}/delete")
def delete_update(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    letter_update(session, organiser, letter_id, update_id)
    if not csrf_valid(request, csrf_token):
        return redirect_to(letter_id, f"/{update_id}")
    try:
        service.delete_update(session, letter_id=letter_id, update_id=update_id)
    except service.UpdateNotDraft:
        return redirect_to(letter_id, f"/{update_id}")
    record_change(session, organiser, letter_id, "update.deleted", f"update {update_id}")
    return redirect_to(letter_id)
