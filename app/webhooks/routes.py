"""The workspace's webhooks page for a letter: list, add (the secret shown once), remove.
Like every workspace form, each POST carries the session's CSRF token; every change goes to
the letter's audit log (naming the endpoint by its host only: a path may hold a secret)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.paths import RowId
from app.kit.security import csrf_valid
from app.kit.state import app_settings
from app.letters import service as letters
from app.organisers import service as organisers
from app.organisers.auth import OrganiserDep
from app.organisers.pages import workspace_page
from app.webhooks import service
from app.webhooks.http import WebhookUrlRefused

router = APIRouter(prefix="/organise")

EXPIRED_FORM = N_("Your form had expired, so nothing was saved. Please send it again.")
TOO_MANY = N_("A letter can have at most 10 webhooks. Remove one first.")


@dataclass(frozen=True, slots=True)
class WebhookForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def _page(
    request: Request,
    session: SessionDep,
    letter_id: int,
    *,
    form: WebhookForm | None = None,
    secret: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    context = {
        "letter": letters.get_summary_by_id(session, letter_id=letter_id),
        "webhooks": service.list_webhooks(session, letter_id=letter_id),
        "deliveries": service.recent_deliveries(session, letter_id=letter_id),
        "events": service.EVENTS,
        "form": form or WebhookForm(values={"url": ""}),
        "secret": secret,
        "notice": notice,
    }
    return workspace_page(request, "organise/webhooks.html", context, status=status)


@router.api_route("/letters/{letter_id}/webhooks", methods=["GET", "HEAD"])
def webhooks_page(
    request: Request, session: SessionDep, organiser: OrganiserDep, letter_id: RowId
) -> Response:
    organisers.require_letter(session, organiser=organiser, letter_id=letter_id)
    return _page(request, session, letter_id)


@router.post("/letters/{letter_id}/webhooks")
def add_webhook(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    url: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    organisers.require_letter(session, organiser=organiser, letter_id=letter_id)
    form = WebhookForm(values={"url": url.strip()})
    if not csrf_valid(request, csrf_token):
        return _page(request, session, letter_id, form=form, notice=EXPIRED_FORM, status=400)
    settings = app_settings(request)
    try:
        webhook_id, secret = service.add_webhook(
            session,
            letter_id=letter_id,
            url=form.values["url"],
            keyring=settings.keyring(),
            allow_private=settings.webhook_allow_private,
            organiser_id=organiser.id,
        )
    except WebhookUrlRefused as refused:
        form.errors["url"] = str(refused)
        return _page(request, session, letter_id, form=form, status=400)
    except service.TooManyWebhooks:
        return _page(request, session, letter_id, form=form, notice=TOO_MANY, status=400)
    organisers.record(
        session,
        organiser_id=organiser.id,
        letter_id=letter_id,
        action="webhook.added",
        detail=f"{webhook_id}: {service.host_of(form.values['url'])}",
    )
    return _page(request, session, letter_id, secret=secret)


@router.post("/letters/{letter_id}/webhooks/{webhook_id}/delete")
def remove_webhook(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    letter_id: RowId,
    webhook_id: RowId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    organisers.require_letter(session, organiser=organiser, letter_id=letter_id)
    if csrf_valid(request, csrf_token):
        url = service.remove_webhook(session, letter_id=letter_id, webhook_id=webhook_id)
        if url is None:
            raise organisers.NotAllowed(str(webhook_id))
        organisers.record(
            session,
            organiser_id=organiser.id,
            letter_id=letter_id,
            action="webhook.removed",
            detail=f"{webhook_id}: {service.host_of(url)}",
        )
    return RedirectResponse(f"/organise/letters/{letter_id}/webhooks", status_code=303)
