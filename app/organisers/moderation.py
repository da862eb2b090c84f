"""Moderation routes: search a letter's signatures, hide or invalidate one, run a bulk rule
after a preview, reverse it. Every route checks the organiser organises the letter (others see
'not found'); every change is written to the audit log, by signature id, never by name (the
log outlives a withdrawal)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.kit.state import app_settings
from app.letters import service as letters
from app.letters.languages import language_labels
from app.organisers import service
from app.organisers.auth import OrganiserDep
from app.organisers.moderation_forms import (
    RULE_FIELDS,
    SEARCH_FIELDS,
    RuleFormData,
    TypedForm,
    parse_reason,
    parse_rule,
    parse_search,
)
from app.organisers.pages import workspace_page
from app.organisers.workspace import EXPIRED_FORM
from app.signatures import moderation
from app.signatures.models import SignatureSource, SignatureState, Visibility

router = APIRouter(prefix="/organise/letters/{letter_id}/signatures")


def _letter(session: SessionDep, organiser: OrganiserDep, letter_id: RowId) -> object:
    service.require_letter(session, organiser=organiser, letter_id=letter_id)
    [letter] = letters.list_letters(session, letter_ids=[letter_id])
    return letter


def _search_query(raw: str) -> str:
    """The list's query string, keeping only the search's own fields (for 'back' links)."""
    kept = [(k, v) for k, v in parse_qsl(raw)[:20] if k in (*SEARCH_FIELDS, "after") and v]
    return urlencode(kept)


def _list_page(
    request: Request,
    session: SessionDep,
    *,
    letter: object,
    letter_id: RowId,
    query: str,
    row_errors: dict[int, tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    params = dict(parse_qsl(query))
    form, wanted = parse_search(params)
    after = params.get("after", "")
    found = moderation.list_signatures(
        session,
        letter_id=letter_id,
        wanted=wanted,
        keyring=app_settings(request).keyring(),
        after=int(after) if after.isdigit() else None,
    )
    next_query = urlencode({**form.values, "after": found.next_after}) if found.next_after else ""
    context = {
        "letter": letter,
        "form": form,
        "found": found,
        "states": [state.value for state in SignatureState],
        "languages": language_labels(letters.letter_languages(session, letter_id=letter_id)),
        "visibilities": [visibility.value for visibility in Visibility],
        "sources": [source.value for source in SignatureSource],
        "back": _search_query(query),
        "first_query": urlencode({k: v for k, v in form.values.items() if v}),
        "next_query": next_query,
        "paged": bool(after),
        "row_errors": row_errors or {},
    }
    return workspace_page(
        request, "organise/signatures.html", context, status=400 if form.errors else status
    )


@router.api_route("", methods=["GET", "HEAD"])
def signatures_list(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    letter = _letter(session, organiser, letter_id)
    query = request.url.query
    return _list_page(request, session, letter=letter, letter_id=letter_id, query=query)


def _back(letter_id: RowId, back: str) -> RedirectResponse:
    query = _search_query(back)
    path = f"/organise/letters/{letter_id}/signatures"
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def _record(
    session: SessionDep, organiser: OrganiserDep, letter_id: RowId, action: str, detail: str
) -> None:
    service.record(
        session, organiser_id=organiser.id, letter_id=letter_id, action=action, detail=detail
    )


@router.post("/{signature_id}/visibility")
def hide_or_show(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    signature_id: RowId,
    hide: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _letter(session, organiser, letter_id)
    if csrf_valid(request, csrf_token):
        hidden = hide == "1"
        if moderation.set_hidden(
            session, letter_id=letter_id, signature_id=signature_id, hidden=hidden
        ):
            action = "signature.hidden" if hidden else "signature.shown"
            _record(session, organiser, letter_id, action, f"signature {signature_id}")
    return _back(letter_id, back)


@router.post("/{signature_id}/invalidate")
def invalidate_one(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    signature_id: RowId,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    letter = _letter(session, organiser, letter_id)
    if not csrf_valid(request, csrf_token):
        return _back(letter_id, back)
    typed, error = parse_reason(reason)
    if error:
        errors = {signature_id: (typed, error)}
        return _list_page(
            request, session, letter=letter, letter_id=letter_id, query=back,
            row_errors=errors, status=400,
        )  # fmt: skip
    if moderation.invalidate(session, letter_id=letter_id, signature_id=signature_id, reason=typed):
        _record(session, organiser, letter_id, "signature.invalidated", f"signature {signature_id}")
    return _back(letter_id, back)


@router.post("/{signature_id}/restore")
def restore_one(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    signature_id: RowId,
    back: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _letter(session, organiser, letter_id)
    if csrf_valid(request, csrf_token) and moderation.restore(
        session, letter_id=letter_id, signature_id=signature_id
    ):
        _record(session, organiser, letter_id, "signature.restored", f"signature {signature_id}")
    return _back(letter_id, back)


def _rules_page(
    request: Request,
    session: SessionDep,
    *,
    letter: object,
    letter_id: RowId,
    form: TypedForm,
    preview: moderation.RulePreview | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    context = {
        "letter": letter,
        "form": form,
        "preview": preview,
        "rules": moderation.list_rules(session, letter_id=letter_id),
        "notice": notice,
    }
    return workspace_page(request, "organise/rules.html", context, status=status)


@router.api_route("/rules", methods=["GET", "HEAD"])
def rules_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    letter = _letter(session, organiser, letter_id)
    form = TypedForm(values=dict.fromkeys(RULE_FIELDS, "") | {"kind": "domain"})
    return _rules_page(request, session, letter=letter, letter_id=letter_id, form=form)


def _checked_rule(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    posted: RuleFormData,
) -> tuple[moderation.BulkRule | None, Response]:
    """The rule, if the form holds one; else the rules page with the mistakes marked."""
    letter = _letter(session, organiser, letter_id)
    form, rule = parse_rule(posted.model_dump())
    expired = not csrf_valid(request, posted.csrf_token)
    keyring = app_settings(request).keyring()
    preview = None
    if rule is not None and not expired:
        preview = moderation.preview_rule(session, letter_id=letter_id, rule=rule, keyring=keyring)
    page = _rules_page(
        request,
        session,
        letter=letter,
        letter_id=letter_id,
        form=form,
        preview=preview,
        notice=EXPIRED_FORM if expired else "",
        status=200 if preview else 400,
    )
    return (None if expired else rule), page


@router.post("/rules/preview")
def preview_rule(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    posted: Annotated[RuleFormData, Form()],
) -> Response:
    """Show how many signatures the rule hits now, and a sample, before anything changes."""
    return _checked_rule(request, session, organiser, letter_id, posted)[1]


@router.post("/rules")
def apply_rule(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    posted: Annotated[RuleFormData, Form()],
) -> Response:
    rule, page = _checked_rule(request, session, organiser, letter_id, posted)
    if rule is None:
        return page
    keyring = app_settings(request).keyring()
    rule_id, count = moderation.apply_rule(
        session, letter_id=letter_id, rule=rule, organiser_id=organiser.id, keyring=keyring
    )
    detail = f"rule {rule_id} ({rule.kind.value} {rule.describe()}): {count} invalidated"
    _record(session, organiser, letter_id, "rule.applied", detail)
    return RedirectResponse(f"/organise/letters/{letter_id}/signatures/rules", status_code=303)


@router.post("/rules/{rule_id}/reverse")
def reverse_rule(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    rule_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _letter(session, organiser, letter_id)
    if csrf_valid(request, csrf_token):
        restored = moderation.reverse_rule(session, letter_id=letter_id, rule_id=rule_id)
        if restored is not None:  # None: reversed before (a second press changes nothing)
            detail = f"rule {rule_id}: {restored} restored"
            _record(session, organiser, letter_id, "rule.reversed", detail)
    return RedirectResponse(f"/organise/letters/{letter_id}/signatures/rules", status_code=303)
