"""Signing, and the pages that mailed links open (GET shows a button; POST acts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.config import Settings
from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.security import csrf_valid
from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.letters.pages import render_letter_page
from app.signatures import service
from app.signatures.schemas import ButtonFormData, SignFormData, parse_sign_form

router = APIRouter()

DAY = 86_400.0
EXPIRED_FORM = N_("Your form had expired, so nothing was sent. Please check it and send it again.")
CLOSED = N_("This letter is closed and no longer accepts signatures.")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


@router.post("/letters/{slug}/sign")
def sign_letter(
    request: Request, session: SessionDep, slug: str, data: Annotated[SignFormData, Form()]
) -> Response:
    letter = letters.get_public_letter(session, slug=slug)
    form = parse_sign_form(data.model_dump())
    if not letter.accepting:
        return render_letter_page(
            request, session, letter, form=form, notice=CLOSED, status_code=409
        )
    if not csrf_valid(request, data.csrf_token):
        return render_letter_page(
            request, session, letter, form=form, notice=EXPIRED_FORM, status_code=400
        )
    if not form.valid:
        return render_letter_page(request, session, letter, form=form, status_code=400)
    if not form.honeypot_filled:  # bots get the same page and nothing is stored
        service.sign(
            session,
            letter_id=letter.id,
            data=form.to_input(),
            duplicate_notice_limit=_settings(request).duplicate_notice_limit,
        )
    return RedirectResponse(f"/letters/{slug}/check-email", status_code=303)


@router.api_route("/letters/{slug}/check-email", methods=["GET", "HEAD"])
def check_email(request: Request, session: SessionDep, slug: str) -> Response:
    letter = letters.get_public_summary(session, slug=slug)
    days = int(_settings(request).confirm_token_max_age_days)
    return render_page(request, "signatures/check_email.html", {"letter": letter, "days": days})


def _max_age(request: Request, purpose: Purpose) -> float:
    settings = _settings(request)
    days = (
        settings.confirm_token_max_age_days
        if purpose is Purpose.CONFIRM
        else settings.withdraw_token_max_age_days
    )
    return days * DAY


def _token_page(
    request: Request,
    session: SessionDep,
    token: str,
    purpose: Purpose,
    *,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    """The page a mailed link opens: what the button will do, and the button. Changes nothing."""
    described = service.describe_token(
        session,
        tokens=_tokens(request),
        purpose=purpose,
        token=token,
        max_age_seconds=_max_age(request, purpose),
    )
    template = (
        "signatures/confirm.html" if purpose is Purpose.CONFIRM else "signatures/withdraw.html"
    )
    return render_page(
        request,
        template,
        {"signature": described, "notice": notice},
        status_code=status_code,
        form=True,
        token_page=True,
    )


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"])
def confirm_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, Purpose.CONFIRM)


@router.post("/confirm/{token}")
def confirm_signature(
    request: Request, session: SessionDep, token: str, data: Annotated[ButtonFormData, Form()]
) -> Response:
    if not csrf_valid(request, data.csrf_token):
        return _token_page(
            request, session, token, Purpose.CONFIRM, notice=EXPIRED_FORM, status_code=400
        )
    confirmed = service.confirm(
        session,
        tokens=_tokens(request),
        token=token,
        max_age_seconds=_max_age(request, Purpose.CONFIRM),
    )
    return RedirectResponse(f"/letters/{confirmed.letter_slug}/thank-you", status_code=303)


@router.api_route("/letters/{slug}/thank-you", methods=["GET", "HEAD"])
def thank_you(request: Request, session: SessionDep, slug: str) -> Response:
    letter = letters.get_public_summary(session, slug=slug)
    letter_url = f"{_settings(request).base_url}/letters/{letter.slug}"
    return render_page(
        request, "signatures/thank_you.html", {"letter": letter, "letter_url": letter_url}
    )


@router.api_route("/withdraw/{token}", methods=["GET", "HEAD"])
def withdraw_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, Purpose.WITHDRAW)


@router.post("/withdraw/{token}")
def withdraw_signature(
    request: Request, session: SessionDep, token: str, data: Annotated[ButtonFormData, Form()]
) -> Response:
    if not csrf_valid(request, data.csrf_token):
        return _token_page(
            request, session, token, Purpose.WITHDRAW, notice=EXPIRED_FORM, status_code=400
        )
    withdrawn = service.withdraw(
        session,
        tokens=_tokens(request),
        token=token,
        max_age_seconds=_max_age(request, Purpose.WITHDRAW),
    )
    return RedirectResponse(f"/letters/{withdrawn.letter_slug}/withdrawn", status_code=303)


@router.api_route("/letters/{slug}/withdrawn", methods=["GET", "HEAD"])
def withdrawn(request: Request, session: SessionDep, slug: str) -> Response:
    letter = letters.get_public_summary(session, slug=slug)
    return render_page(request, "signatures/withdrawn.html", {"letter": letter})
