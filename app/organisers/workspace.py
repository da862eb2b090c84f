"""The workspace: the organiser's letters, writing and publishing them, and their audit log.
Every route checks that the signed-in organiser organises the letter; others see 'not found'."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep, utcnow
from app.kit.i18n import N_
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.kit.state import app_settings
from app.letters import service as letters
from app.letters.forms import (
    DeliveryFormData,
    LetterForm,
    LetterFormData,
    delivery_input,
    letter_form,
    parse_delivery_form,
    parse_letter_form,
)
from app.letters.models import LetterStatus
from app.letters.translations import ALREADY_TRANSLATED
from app.organisers import second_factor_service as second_factor
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.organisers.service import CurrentOrganiser
from app.signatures import service as signatures
from app.signatures.schemas import EmailFormData, parse_email_only

router = APIRouter(prefix="/organise")

EXPIRED_FORM = N_("Your form had expired, so nothing was saved. Please send it again.")
SLUG_TAKEN = N_("Another letter already has this address.")
SLUG_LOCKED = N_("A letter that has been public keeps its address: links to it are out there.")
NEW_LETTER = {"language": "en", "body_markdown": "", "title": "", "slug": ""}


@router.api_route("", methods=["GET", "HEAD"])
def workspace(request: Request, session: SessionDep, organiser: OrganiserDep) -> Response:
    ids = service.visible_letter_ids(session, organiser=organiser)
    listed = letters.list_letters(session, letter_ids=ids)
    counts = signatures.counts_confirmed(session, letter_ids=[letter.id for letter in listed])
    context = {
        "letters": listed,
        "counts": counts,
        "organiser": organiser,
        "second_factor_required": second_factor.policy_requires(session),
    }
    return workspace_page(request, "organise/index.html", context)


def _letter_form_page(
    request: Request,
    *,
    form: LetterForm,
    letter_id: int | None,
    preview: object = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    context = {"form": form, "letter_id": letter_id, "preview": preview, "notice": notice}
    return workspace_page(request, "organise/letter_form.html", context, status=status)


@router.api_route("/letters/new", methods=["GET", "HEAD"])
def new_letter_page(request: Request, organiser: OrganiserDep) -> Response:
    return _letter_form_page(request, form=letter_form(NEW_LETTER), letter_id=None)


def _checked_form(
    request: Request, session: SessionDep, data: LetterFormData
) -> tuple[LetterForm, Response | None]:
    """The parsed form, and the page to answer with instead of saving, if any."""
    letter_id = request.path_params.get("letter_id")
    stored = (
        letters.editable_values(session, letter_id=int(letter_id))["closes_on"] if letter_id else ""
    )
    form = parse_letter_form(data.model_dump(), today=utcnow().date(), stored_closes_on=stored)
    if not csrf_valid(request, data.csrf_token):
        page = _letter_form_page(
            request, form=form, letter_id=letter_id, notice=EXPIRED_FORM, status=400
        )
        return form, page
    if data.action == "preview" or not form.valid:
        preview = letters.preview_html(form.values["body_markdown"])
        status = 200 if form.valid else 400
        page = _letter_form_page(
            request, form=form, letter_id=letter_id, preview=preview, status=status
        )
        return form, page
    return form, None


@router.post("/letters/new")
def create_letter(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    data: Annotated[LetterFormData, Form()],
) -> Response:
    form, answer = _checked_form(request, session, data)
    if answer is not None:
        return answer
    try:
        letter_id = letters.create_letter(session, data=form.to_input())
    except letters.SlugTaken:
        form.errors["slug"] = SLUG_TAKEN
        return _letter_form_page(request, form=form, letter_id=None, status=400)
    service.add_to_letter(session, organiser_id=organiser.id, letter_id=letter_id)
    service.record(session, organiser_id=organiser.id, letter_id=letter_id, action="letter.created")
    return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)


def _allowed(session: SessionDep, organiser: CurrentOrganiser, letter_id: RowId) -> None:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)


def _overview(
    request: Request,
    session: SessionDep,
    letter_id: RowId,
    *,
    delivery: dict[str, str] | None = None,
    delivery_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    [letter] = letters.list_letters(session, letter_ids=[letter_id])
    context = {
        "letter": letter,
        "confirmed": signatures.count_confirmed(session, letter_id=letter_id),
        "pending": signatures.count_pending(session, letter_id=letter_id),
        "organisers": service.co_organiser_count(session, letter_id=letter_id),
        "moves": sorted(
            to.value for before, to in letters.ALLOWED_MOVES if before is letter.status
        ),
        "deliveries": letters.deliveries(session, letter_id=letter_id),
        "delivery": delivery or {"delivered_on": utcnow().date().isoformat()},
        "delivery_errors": delivery_errors or {},
        "notice": "",
    }
    return workspace_page(request, "organise/letter.html", context, status=status)


@router.api_route("/letters/{letter_id}", methods=["GET", "HEAD"])
def letter_overview(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    _allowed(session, organiser, letter_id)
    return _overview(request, session, letter_id)


@router.post("/letters/{letter_id}/deliveries")
def record_delivery(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[DeliveryFormData, Form()],
) -> Response:
    """A closed letter handed over: when, to whom, how. Public; the first makes it delivered."""
    _allowed(session, organiser, letter_id)
    published = letters.published_on(session, letter_id=letter_id) or utcnow().date()
    values, errors = parse_delivery_form(
        data.model_dump(), today=utcnow().date(), earliest=published
    )
    if not csrf_valid(request, data.csrf_token):
        errors["delivered_on"] = EXPIRED_FORM
    if errors:
        return _overview(
            request, session, letter_id, delivery=values, delivery_errors=errors, status=400
        )
    try:
        letters.record_delivery(session, letter_id=letter_id, data=delivery_input(values))
    except letters.NotReadyForDelivery:
        return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)
    service.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="letter.delivered",
        detail=f"{values['delivered_on']}: {values['recipient']} ({values['method']})",
    )
    return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)


@router.api_route("/letters/{letter_id}/edit", methods=["GET", "HEAD"])
def edit_letter_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    _allowed(session, organiser, letter_id)
    values = letters.editable_values(session, letter_id=letter_id)
    return _letter_form_page(request, form=letter_form(values), letter_id=letter_id)


@router.post("/letters/{letter_id}/edit")
def save_letter(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[LetterFormData, Form()],
) -> Response:
    _allowed(session, organiser, letter_id)
    form, answer = _checked_form(request, session, data)
    if answer is not None:
        return answer
    try:
        changed = letters.update_letter(session, letter_id=letter_id, data=form.to_input())
    except letters.SlugTaken:
        form.errors["slug"] = SLUG_TAKEN
        return _letter_form_page(request, form=form, letter_id=letter_id, status=400)
    except letters.SlugLocked:
        form.errors["slug"] = SLUG_LOCKED
        return _letter_form_page(request, form=form, letter_id=letter_id, status=400)
    except letters.LanguageTaken:
        form.errors["language"] = ALREADY_TRANSLATED
        return _letter_form_page(request, form=form, letter_id=letter_id, status=400)
    if changed:
        service.record(
            session,
            organiser_id=organiser.id,
            letter_id=letter_id,
            action="letter.edited",
            detail=", ".join(changed),
        )
    return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)


@router.post("/letters/{letter_id}/status")
def change_status(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    to: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _allowed(session, organiser, letter_id)
    if csrf_valid(request, csrf_token) and to in {status.value for status in LetterStatus}:
        try:
            before = letters.change_status(session, letter_id=letter_id, to=LetterStatus(to))
        except letters.StatusChangeRefused:
            pass  # a stale page; the overview shows what is possible now
        else:
            service.record(
                session,
                organiser_id=organiser.id,
                letter_id=letter_id,
                action="letter.status",
                detail=f"{before.value} -> {to}",
            )
    return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)


@router.post("/letters/{letter_id}/organisers")
def add_co_organiser(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    data: Annotated[EmailFormData, Form()],
) -> Response:
    """Add an organiser who already has an account; the page says the same either way."""
    _allowed(session, organiser, letter_id)
    form = parse_email_only(data.model_dump())
    if csrf_valid(request, data.csrf_token) and form.valid:
        keyring = app_settings(request).keyring()
        other = service.find_organiser_id(session, email=form.valid_email(), keyring=keyring)
        if other is not None and service.add_to_letter(
            session, organiser_id=other, letter_id=letter_id
        ):
            service.record(
                session,
                organiser_id=organiser.id,
                letter_id=letter_id,
                action="letter.organiser_added",
                detail=form.valid_email(),
            )
    return RedirectResponse(f"/organise/letters/{letter_id}", status_code=303)


@router.api_route("/letters/{letter_id}/audit", methods=["GET", "HEAD"])
def audit(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    _allowed(session, organiser, letter_id)
    [letter] = letters.list_letters(session, letter_ids=[letter_id])
    lines = service.audit_log(session, letter_id=letter_id, keyring=app_settings(request).keyring())
    return workspace_page(request, "organise/audit.html", {"letter": letter, "lines": lines})


@router.post("/organisers")
def invite_organiser(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    data: Annotated[EmailFormData, Form()],
) -> Response:
    """Admins invite organisers: the account is made and a sign-in link mailed."""
    if not organiser.is_admin:
        raise service.NotAllowed("invite")
    form = parse_email_only(data.model_dump())
    if csrf_valid(request, data.csrf_token) and form.valid:
        settings = app_settings(request)
        email = form.valid_email()
        if service.create_organiser(
            session, email=email, is_admin=False, keyring=settings.keyring()
        ):
            service.record(
                session, organiser_id=organiser.id, letter_id=None, action="organiser.invited"
            )
        service.request_sign_in(
            session,
            email=email,
            keyring=settings.keyring(),
            per_hour=settings.sign_in_links_per_hour,
            link_minutes=settings.sign_in_link_minutes,
        )
    return RedirectResponse("/organise", status_code=303)
