"""Workspace pages for a letter's translations: list, add, edit (with a preview), delete.
Each route checks the organiser organises the letter (others see 'not found'), and every
change goes to the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.letters import service as letters
from app.letters import translations
from app.letters.languages import CODE, code_problem, direction, normal_code, own_name
from app.letters.translations import (
    ALREADY_TRANSLATED,
    TranslationForm,
    TranslationFormData,
    parse_translation_form,
    translation_form,
)
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.organisers.workspace import EXPIRED_FORM

router = APIRouter(prefix="/organise/letters/{letter_id}/translations")

# A language in the address: shaped like a code, or it is no page of ours.
LanguagePath = Annotated[str, Path(max_length=12, pattern=f"^{CODE.pattern}$")]


def _allowed(session: SessionDep, organiser: OrganiserDep, letter_id: RowId) -> None:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)


def _translation(session: SessionDep, letter_id: RowId, language: str) -> dict[str, str]:
    try:
        found = translations.get_translation(session, letter_id=letter_id, language=language)
    except letters.TranslationNotFound:
        raise service.NotAllowed(f"{letter_id}/{language}") from None
    return {
        "language": found.language,
        "title": found.title,
        "summary": found.summary,
        "body_markdown": found.body_markdown,
    }


def _form_page(
    request: Request,
    session: SessionDep,
    letter_id: RowId,
    *,
    form: TranslationForm,
    language: str | None,
    preview: object = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    code = language or normal_code(form.values["language"])
    known = code_problem(code) is None
    context = {
        "letter": letters.get_summary_by_id(session, letter_id=letter_id),
        "original": letters.editable_values(session, letter_id=letter_id),
        "form": form,
        "language": language,  # None while adding one
        "language_name": own_name(code) if known else "",
        "text_language": code if known else "",  # marks the preview's language
        "text_direction": direction(code) if known else "ltr",
        "preview": preview,
        "notice": notice,
    }
    return workspace_page(request, "organise/translation_form.html", context, status=status)


def _checked(
    request: Request,
    session: SessionDep,
    letter_id: RowId,
    data: TranslationFormData,
    *,
    language: str | None,
) -> tuple[TranslationForm, Response | None]:
    """The parsed form, and the page to answer with instead of saving, if any."""
    languages = letters.letter_languages(session, letter_id=letter_id)
    raw = data.model_dump()
    if language is not None:  # an edit keeps its language; the form does not change it
        raw["language"] = language
    form = parse_translation_form(
        raw, original=languages[0], taken=[code for code in languages[1:] if code != language]
    )
    answer = None
    if not csrf_valid(request, data.csrf_token):
        answer = _form_page(
            request,
            session,
            letter_id,
            form=form,
            language=language,
            notice=EXPIRED_FORM,
            status=400,
        )
    elif data.action == "preview" or not form.valid:
        preview = letters.preview_html(form.values["body_markdown"])
        answer = _form_page(
            request,
            session,
            letter_id,
            form=form,
            language=language,
            preview=preview,
            status=200 if form.valid else 400,
        )
    return form, answer


@router.api_route("", methods=["GET", "HEAD"])
def translations_list(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    _allowed(session, organiser, letter_id)
    items = translations.list_translations(session, letter_id=letter_id)
    original = letters.editable_values(session, letter_id=letter_id)["language"]
    codes = [original, *(item.language for item in items)]
    context = {
        "letter": letters.get_summary_by_id(session, letter_id=letter_id),
        "original": original,
        "items": items,
        "names": {code: own_name(code) for code in codes},
        "directions": {code: direction(code) for code in codes},
    }
    return workspace_page(request, "organise/translations.html", context)


@router.api_route("/new", methods=["GET", "HEAD"])
def new_translation_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    _allowed(session, organiser, letter_id)
    return _form_page(request, session, letter_id, form=translation_form({}), language=None)


@router.post("/new")
def add_translation(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[TranslationFormData, Form()],
) -> Response:
    _allowed(session, organiser, letter_id)
    form, answer = _checked(request, session, letter_id, data, language=None)
    if answer is not None:
        return answer
    added = form.to_input()
    try:
        translations.add_translation(session, letter_id=letter_id, data=added)
    except letters.LanguageTaken:  # added by someone else meanwhile
        form.errors["language"] = ALREADY_TRANSLATED
        return _form_page(request, session, letter_id, form=form, language=None, status=400)
    service.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="translation.added",
        detail=added.language,
    )
    return RedirectResponse(f"/organise/letters/{letter_id}/translations", status_code=303)


@router.api_route("/{language}", methods=["GET", "HEAD"])
def edit_translation_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    language: LanguagePath,
) -> Response:
    _allowed(session, organiser, letter_id)
    form = translation_form(_translation(session, letter_id, language))
    return _form_page(request, session, letter_id, form=form, language=language)


@router.post("/{language}")
def save_translation(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    language: LanguagePath,
    data: Annotated[TranslationFormData, Form()],
) -> Response:
    _allowed(session, organiser, letter_id)
    _translation(session, letter_id, language)
    form, answer = _checked(request, session, letter_id, data, language=language)
    if answer is not None:
        return answer
    changed = translations.update_translation(
        session, letter_id=letter_id, language=language, data=form.to_input()
    )
    if changed:
        service.record(
            session,
            organiser_id=organiser.id,
            letter_id=letter_id,
            action="translation.edited",
            detail=f"{language}: {', '.join(changed)}",
        )
    return RedirectResponse(f"/organise/letters/{letter_id}/translations", status_code=303)


@router.post("/{language}/delete")
def delete_translation(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    language: LanguagePath,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _allowed(session, organiser, letter_id)
    _translation(session, letter_id, language)
    if csrf_valid(request, csrf_token):
        translations.delete_translation(session, letter_id=letter_id, language=language)
        service.record(
            session,
            organiser_id=organiser.id,
            letter_id=letter_id,
            action="translation.deleted",
            detail=language,
        )
    return RedirectResponse(f"/organise/letters/{letter_id}/translations", status_code=303)
