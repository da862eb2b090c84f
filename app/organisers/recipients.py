"""Workspace pages for a letter's recipients, first signatories and supporting statements: add,
edit, reorder, delete. The same routes serve the three lists; each checks the organiser's access to
the letter, and that the person belongs to that letter, and every change goes to the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.letters import recipients as people
from app.letters import service as letters
from app.letters.recipients import Kind
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.signatures.schemas import country_names

router = APIRouter(prefix="/organise")

EXPIRED_FORM = N_("Your form had expired, so nothing was saved. Please send it again.")


class PersonFormData(BaseModel):
    """Both kinds' fields: each kind reads its own."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    title: str = ""
    organisation: str = ""
    country: str = ""
    postal_address: str = ""
    language: str = ""
    description: str = ""
    body: str = ""
    csrf_token: str = ""


@dataclass(frozen=True, slots=True)
class PersonForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListPages:
    kind: Kind
    path: str  # in the address
    audit: str  # the audit log's name for one of them


LISTS = (
    ListPages(kind="recipients", path="recipients", audit="recipient"),
    ListPages(kind="first_signatories", path="first-signatories", audit="first_signatory"),
    ListPages(kind="statements", path="statements", audit="statement"),
)


def _parse(kind: Kind, data: PersonFormData) -> PersonForm:
    values = people.cleaned(kind, data.model_dump())
    return PersonForm(values=values, errors=people.problems(kind, values))


def _list_page(
    request: Request,
    session: SessionDep,
    pages: ListPages,
    letter_id: RowId,
    *,
    form: PersonForm | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    letter = letters.get_summary_by_id(session, letter_id=letter_id)
    if form is None:
        form = PersonForm(values={name: "" for name in people.field_names(pages.kind)})
        if "language" in form.values:
            form.values["language"] = letters.editable_values(session, letter_id=letter_id)[
                "language"
            ]
    context = {
        "letter": letter,
        "pages": pages,
        "items": people.list_items(session, kind=pages.kind, letter_id=letter_id),
        "form": form,
        "item_id": None,
        "countries": country_names(),
        "notice": notice,
    }
    return workspace_page(request, "organise/people.html", context, status=status)


def _edit_page(
    request: Request,
    session: SessionDep,
    pages: ListPages,
    letter_id: RowId,
    item_id: RowId,
    *,
    form: PersonForm,
    notice: str = "",
    status: int = 200,
) -> Response:
    context = {
        "letter": letters.get_summary_by_id(session, letter_id=letter_id),
        "pages": pages,
        "form": form,
        "item_id": item_id,
        "countries": country_names(),
        "notice": notice,
    }
    return workspace_page(request, "organise/person.html", context, status=status)


def _allowed(
    session: SessionDep,
    organiser: OrganiserDep,
    pages: ListPages,
    letter_id: RowId,
    item_id: int | None = None,
) -> people.Item | None:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    if item_id is None:
        return None
    try:
        return people.get_item(session, kind=pages.kind, letter_id=letter_id, item_id=item_id)
    except people.ItemNotFound:
        raise service.NotAllowed(f"{letter_id}/{item_id}") from None


def _back(pages: ListPages, letter_id: RowId) -> Response:
    return RedirectResponse(f"/organise/letters/{letter_id}/{pages.path}", status_code=303)


def _add_routes(pages: ListPages) -> None:
    base = f"/letters/{{letter_id}}/{pages.path}"

    @router.api_route(base, methods=["GET", "HEAD"], name=f"{pages.kind}_list")
    def list_people(
        request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
    ) -> Response:
        _allowed(session, organiser, pages, letter_id)
        return _list_page(request, session, pages, letter_id)

    @router.post(base, name=f"{pages.kind}_add")
    def add_person(
        request: Request,
        session: SessionDep,
        organiser: OrganiserDep,
        letter_id: RowId,
        data: Annotated[PersonFormData, Form()],
    ) -> Response:
        _allowed(session, organiser, pages, letter_id)
        form = _parse(pages.kind, data)
        if not csrf_valid(request, data.csrf_token):
            return _list_page(
                request, session, pages, letter_id, form=form, notice=EXPIRED_FORM, status=400
            )
        if form.errors:
            return _list_page(request, session, pages, letter_id, form=form, status=400)
        people.add_item(session, kind=pages.kind, letter_id=letter_id, values=form.values)
        service.record(
            session,
            organiser_id=organiser.id,
            letter_id=letter_id,
            action=f"{pages.audit}.added",
            detail=form.values["name"],
        )
        return _back(pages, letter_id)

    @router.api_route(f"{base}/{{item_id}}", methods=["GET", "HEAD"], name=f"{pages.kind}_edit")
    def edit_person_page(
        request: Request,
        session: SessionDep,
        organiser: OrganiserDep,
        letter_id: RowId,
        item_id: RowId,
    ) -> Response:
        item = _allowed(session, organiser, pages, letter_id, item_id)
        assert item is not None
        form = PersonForm(values=dict(item.values))
        return _edit_page(request, session, pages, letter_id, item_id, form=form)

    @router.post(f"{base}/{{item_id}}", name=f"{pages.kind}_save")
    def save_person(
        request: Request,
        session: SessionDep,
        organiser: OrganiserDep,
        letter_id: RowId,
        item_id: RowId,
        data: Annotated[PersonFormData, Form()],
    ) -> Response:
        _allowed(session, organiser, pages, letter_id, item_id)
        form = _parse(pages.kind, data)
        if not csrf_valid(request, data.csrf_token) or form.errors:
            notice = "" if form.errors else EXPIRED_FORM
            return _edit_page(
                request, session, pages, letter_id, item_id, form=form, notice=notice, status=400
            )
        changed = people.update_item(
            session, kind=pages.kind, letter_id=letter_id, item_id=item_id, values=form.values
        )
        if changed:
            service.record(
                session,
                organiser_id=organiser.id,
                letter_id=letter_id,
                action=f"{pages.audit}.edited",
                detail=f"{form.values['name']}: {', '.join(changed)}",
            )
        return _back(pages, letter_id)

    @router.post(f"{base}/{{item_id}}/move", name=f"{pages.kind}_move")
    def move_person(
        request: Request,
        session: SessionDep,
        organiser: OrganiserDep,
        letter_id: RowId,
        item_id: RowId,
        direction: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        _allowed(session, organiser, pages, letter_id, item_id)
        if csrf_valid(request, csrf_token) and direction in ("up", "down"):
            name = people.move_item(
                session, kind=pages.kind, letter_id=letter_id, item_id=item_id, up=direction == "up"
            )
            if name is not None:
                service.record(
                    session,
                    organiser_id=organiser.id,
                    letter_id=letter_id,
                    action=f"{pages.audit}.moved",
                    detail=f"{name}: {direction}",
                )
        return _back(pages, letter_id)

    @router.post(f"{base}/{{item_id}}/delete", name=f"{pages.kind}_delete")
    def delete_person(
        request: Request,
        session: SessionDep,
        organiser: OrganiserDep,
        letter_id: RowId,
        item_id: RowId,
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        _allowed(session, organiser, pages, letter_id, item_id)
        if csrf_valid(request, csrf_token):
            name = people.delete_item(
                session, kind=pages.kind, letter_id=letter_id, item_id=item_id
            )
            service.record(
                session,
                organiser_id=organiser.id,
                letter_id=letter_id,
                action=f"{pages.audit}.deleted",
                detail=name,
            )
        return _back(pages, letter_id)


for _pages in LISTS:
    _add_routes(_pages)
