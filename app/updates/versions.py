"""Workspace pages for an update's versions in other languages, and for sending it: the page
that says how many signers will receive it, in which language, and the button that sends it
(once: a second press, or a race of two, changes nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from app.db import SessionDep
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.organisers.service import NotAllowed
from app.updates import forms, service
from app.updates.forms import UpdateFormData, update_form
from app.updates.workspace import checked_form, form_page, letter_update, record_change, redirect_to

router = APIRouter(prefix="/organise/letters/{letter_id}/updates/{update_id}")


def _version(
    session: SessionDep, letter_id: RowId, update_id: RowId, version_id: RowId
) -> service.VersionView:
    try:
        return service.get_version(
            session, letter_id=letter_id, update_id=update_id, version_id=version_id
        )
    except service.UpdateNotFound:
        raise NotAllowed(f"{update_id}/{version_id}") from None


@router.api_route("/versions/new", methods=["GET", "HEAD"])
def new_version_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
) -> Response:
    letter, update = letter_update(session, organiser, letter_id, update_id)
    if not update.is_draft:
        return redirect_to(letter_id, f"/{update_id}")
    return form_page(request, letter=letter, form=update_form({}), update=update, version_new=True)


@router.post("/versions/new")
def add_version(
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
            service.add_version(session, letter_id=letter_id, update_id=update_id, form=form)
        except service.VersionExists as exc:
            same = str(exc) == update.language
            form.errors["language"] = forms.ORIGINAL_LANGUAGE if same else forms.VERSION_EXISTS
        except service.UpdateNotDraft:  # sent meanwhile
            return redirect_to(letter_id, f"/{update_id}")
        else:
            language = form.values["language"]
            record_change(
                session,
                organiser,
                letter_id,
                "update.version_added",
                f"update {update_id}: {language}",
            )
            return redirect_to(letter_id, f"/{update_id}")
    status = 200 if form.valid and not notice else 400
    return form_page(
        request, letter=letter, form=form, update=update, version_new=True, preview=True,
        notice=notice, status=status,
    )  # fmt: skip


@router.api_route("/versions/{version_id}", methods=["GET", "HEAD"])
def version_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    version_id: RowId,
) -> Response:
    letter, update = letter_update(session, organiser, letter_id, update_id)
    version = _version(session, letter_id, update_id, version_id)
    if not update.is_draft:
        return redirect_to(letter_id, f"/{update_id}")
    values = {
        "subject": version.subject,
        "language": version.language,
        "body_markdown": version.body_markdown,
    }
    return form_page(
        request, letter=letter, form=update_form(values), update=update, version_id=version_id
    )


@router.post("/versions/{version_id}")
def save_version(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    version_id: RowId,
    data: Annotated[UpdateFormData, Form()],
) -> Response:
    letter, update = letter_update(session, organiser, letter_id, update_id)
    version = _version(session, letter_id, update_id, version_id)
    if not update.is_draft:
        return redirect_to(letter_id, f"/{update_id}")
    # A version keeps its language (delete it to write another): the field is not sent.
    form, notice, save = checked_form(
        request, data.model_copy(update={"language": version.language})
    )
    if save:
        try:
            service.save_version(
                session, letter_id=letter_id, update_id=update_id, version_id=version_id, form=form
            )
        except service.UpdateNotDraft:  # sent meanwhile
            return redirect_to(letter_id, f"/{update_id}")
        detail = f"update {update_id}: {version.language}"
        record_change(session, organiser, letter_id, "update.version_edited", detail)
        return redirect_to(letter_id, f"/{update_id}")
    status = 200 if form.valid and not notice else 400
    return form_page(
        request, letter=letter, form=form, update=update, version_id=version_id, preview=True,
        notice=notice, status=status,
    )  # fmt: skip


@router.post("/versions/{version_id}/delete")
def delete_version(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    version_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _, update = letter_update(session, organiser, letter_id, update_id)
    _version(session, letter_id, update_id, version_id)
    if update.is_draft and csrf_valid(request, csrf_token):
        try:
            language = service.delete_version(
                session, letter_id=letter_id, update_id=update_id, version_id=version_id
            )
        except service.UpdateNotDraft:  # sent meanwhile
            return redirect_to(letter_id, f"/{update_id}")
        detail = f"update {update_id}: {language}"
        record_change(session, organiser, letter_id, "update.version_deleted", detail)
    return redirect_to(letter_id, f"/{update_id}")


@router.api_route("/send", methods=["GET", "HEAD"])
def send_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
) -> Response:
    """Who will receive it, and in which language; the button sends it."""
    letter, update = letter_update(session, organiser, letter_id, update_id)
    if not update.is_draft:
        return redirect_to(letter_id, f"/{update_id}")
    context = {
        "letter": letter,
        "update": update,
        "audience": service.audience(session, letter_id=letter_id, languages=update.languages),
    }
    return workspace_page(request, "organise/update_send.html", context)


@router.post("/send")
def send_update(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    update_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    letter_update(session, organiser, letter_id, update_id)
    if not csrf_valid(request, csrf_token):
        return redirect_to(letter_id, f"/{update_id}/send")
    planned = service.start_sending(session, letter_id=letter_id, update_id=update_id)
    if planned is not None:  # None: sent already (a second press changes nothing)
        detail = f"update {update_id}: {planned} recipients"
        record_change(session, organiser, letter_id, "update.sent", detail)
    return redirect_to(letter_id, f"/{update_id}")
