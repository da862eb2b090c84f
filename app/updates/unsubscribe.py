"""The unsubscribe link in every update: GET shows a page and changes nothing (mail scanners
open links); its button POSTs, with the app's CSRF token, and turns the organisers' emails off.

The same address is the mail's ``List-Unsubscribe`` header, with ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (RFC 8058): a mail provider then POSTs ``List-Unsubscribe=
One-Click`` to it, from its own servers, without cookies or a form token. For that POST the
signed token in the address is the authority, as it is for the button (whoever holds the link
may unsubscribe); a browser form without its CSRF token is still refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.state import app_settings, app_tokens
from app.kit.tokens import TokenError
from app.letters.languages import chrome_locale
from app.signatures import contact

router = APIRouter()

DAY = 86_400.0
EXPIRED_FORM = N_("Your form had expired, so nothing changed. Please press the button again.")
ONE_CLICK = "One-Click"


class UnsubscribeFormData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # RFC 8058's one-click body: List-Unsubscribe=One-Click
    one_click: str = Field(default="", alias="List-Unsubscribe")
    # The page's buttons: "off" (unsubscribe) or "on" (hear from the organisers again).
    contact: str = "off"


def _max_age(request: Request) -> float:
    return app_settings(request).unsubscribe_token_max_age_days * DAY


def _page(
    request: Request,
    choice: contact.ContactChoice,
    *,
    done: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    return render_page(
        request,
        "updates/unsubscribe.html",
        {"choice": choice, "done": done, "notice": notice, "lang_query": choice.lang_query},
        status_code=status,
        token_page=True,
        locale=chrome_locale(choice.language),  # the signer's language
    )


def _describe(
    request: Request, session: SessionDep, slug: str, token: str
) -> contact.ContactChoice:
    choice = contact.describe_contact(
        session, tokens=app_tokens(request), token=token, max_age_seconds=_max_age(request)
    )
    if choice.letter_slug != slug:  # a genuine token pasted under another letter's address
        raise TokenError(expired=False)
    return choice


@router.api_route("/letters/{slug}/unsubscribe/{token}", methods=["GET", "HEAD"])
def unsubscribe_page(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    return _page(request, _describe(request, session, slug, token))


@router.post("/letters/{slug}/unsubscribe/{token}")
def unsubscribe(
    request: Request,
    session: SessionDep,
    slug: str,
    token: str,
    data: Annotated[UnsubscribeFormData, Form()],
) -> Response:
    choice = _describe(request, session, slug, token)
    one_click = data.one_click == ONE_CLICK
    wanted = not one_click and data.contact == "on"
    choice = contact.set_contact(
        session,
        tokens=app_tokens(request),
        token=token,
        max_age_seconds=_max_age(request),
        may_contact=wanted,
    )
    return _page(request, choice, done="on" if wanted else "off")
