"""Signing, and the pages that mailed links open (GET shows a button; POST acts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.state import app_settings, app_tokens
from app.kit.tokens import Purpose
from app.letters import service as letters
from app.letters.languages import chrome_locale
from app.letters.pages import render_letter_page, requested_language
from app.letters.schemas import LetterSummary
from app.signatures import service
from app.signatures.schemas import (
    ButtonFormData,
    DetailsFormData,
    EmailFormData,
    SignForm,
    SignFormData,
    TokenSignature,
    country_names,
    details_form,
    details_from,
    parse_details_form,
    parse_email_only,
    parse_sign_form,
)

router = APIRouter()

DAY = 86_400.0
CLOSED = N_("This letter is closed and no longer accepts signatures.")


def _mail_limit(request: Request) -> service.MailLimit:
    settings = app_settings(request)
    return service.MailLimit(
        count=settings.signer_mail_limit,
        window=timedelta(hours=settings.signer_mail_window_hours),
    )


@router.post("/letters/{slug}/sign")
def sign_letter(
    request: Request, session: SessionDep, slug: str, data: Annotated[SignFormData, Form()]
) -> Response:
    # The language shown with the form, if the letter has it: what the signer read is what
    # is recorded (a forged or stale code falls back to the letter's own language).
    letter = letters.get_public_letter(session, slug=slug, language=data.language)
    form = parse_sign_form(data.model_dump())
    if not letter.accepting:
        return render_letter_page(
            request, session, letter, form=form, notice=CLOSED, status_code=409
        )
    if not form.valid:
        return render_letter_page(request, session, letter, form=form, status_code=400)
    if not form.honeypot_filled:  # bots get the same page and nothing is stored
        service.sign(
            session,
            letter_id=letter.id,
            data=form.to_input(),
            keyring=app_settings(request).keyring(),
            limit=_mail_limit(request),
            letter_version=letter.version,
            language=letter.language,
        )
    return RedirectResponse(f"/letters/{slug}/check-email{letter.lang_query}", status_code=303)


def _public_summary(request: Request, session: SessionDep, slug: str) -> LetterSummary:
    """The letter, titled in the language the reader's link asked for, if it has it."""
    return letters.get_public_summary(session, slug=slug, language=requested_language(request))


def _signer_page(
    request: Request,
    name: str,
    letter: LetterSummary,
    context: Mapping[str, object],
    **options: Any,
) -> Response:
    """A signer's page in the language of the letter they read."""
    full = {"letter": letter, "lang_query": letter.lang_query, **context}
    return render_page(request, name, full, locale=chrome_locale(letter.language), **options)


@router.api_route("/letters/{slug}/manage", methods=["GET", "HEAD"])
def manage_page(request: Request, session: SessionDep, slug: str) -> Response:
    letter = _public_summary(request, session, slug)
    context = {"form": SignForm(values={"email": ""}), "notice": ""}
    return _signer_page(request, "signatures/manage.html", letter, context)


@router.post("/letters/{slug}/manage")
def request_links(
    request: Request, session: SessionDep, slug: str, data: Annotated[EmailFormData, Form()]
) -> Response:
    """Always the same page; a mail goes out only if this mailbox has signed (rate-limited)."""
    letter = _public_summary(request, session, slug)
    form = parse_email_only(data.model_dump())
    if not form.valid:
        context = {"form": form, "notice": ""}
        return _signer_page(
            request, "signatures/manage.html", letter, context, no_store=True, status_code=400
        )
    if not data.website.strip():  # the honeypot
        service.request_links(
            session,
            letter_id=letter.id,
            email=form.valid_email(),
            keyring=app_settings(request).keyring(),
            limit=_mail_limit(request),
        )
    return RedirectResponse(f"/letters/{slug}/check-email{letter.lang_query}", status_code=303)


@router.api_route("/letters/{slug}/check-email", methods=["GET", "HEAD"])
def check_email(request: Request, session: SessionDep, slug: str) -> Response:
    letter = _public_summary(request, session, slug)
    days = int(app_settings(request).confirm_token_max_age_days)
    return _signer_page(request, "signatures/check_email.html", letter, {"days": days})


def _max_age(request: Request, purpose: Purpose) -> float:
    settings = app_settings(request)
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
    form: SignForm | None = None,
) -> Response:
    """The page a mailed link opens: what the button will do, and the button. Changes nothing.
    The confirm page shows the details that will be published, in a form to correct them."""
    described = service.describe_token(
        session,
        tokens=app_tokens(request),
        purpose=purpose,
        token=token,
        max_age_seconds=_max_age(request, purpose),
    )
    template = (
        "signatures/confirm.html" if purpose is Purpose.CONFIRM else "signatures/withdraw.html"
    )
    if form is None and described.details is not None:
        form = details_form(described.details)
    locale = chrome_locale(described.language)
    context = {
        "signature": described,
        "notice": notice,
        "form": form,
        "countries": country_names(locale),
        "lang_query": described.lang_query,
    }
    return render_page(
        request,
        template,
        context,
        status_code=status_code,
        token_page=True,
        locale=locale,
    )


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"])
def confirm_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, Purpose.CONFIRM)


@router.post("/confirm/{token}")
def confirm_signature(
    request: Request, session: SessionDep, token: str, data: Annotated[DetailsFormData, Form()]
) -> Response:
    described = service.describe_token(
        session,
        tokens=app_tokens(request),
        purpose=Purpose.CONFIRM,
        token=token,
        max_age_seconds=_max_age(request, Purpose.CONFIRM),
    )
    if described.details is None:
        raise service.SignatureWithdrawn(described.letter_slug)
    # The page's form says it carries the details; a bare button post keeps what was shown.
    shown = details_form(described.details).values
    form = parse_details_form(data.model_dump() if data.details_form else shown)
    if not form.valid:
        return _token_page(request, session, token, Purpose.CONFIRM, status_code=400, form=form)
    confirmed = service.confirm(
        session,
        tokens=app_tokens(request),
        token=token,
        max_age_seconds=_max_age(request, Purpose.CONFIRM),
        details=details_from(form),
    )
    return _thank_signer(request, session, confirmed)


def _thank_signer(request: Request, session: SessionDep, confirmed: TokenSignature) -> Response:
    """Shown only in answer to the confirming POST: it restates what is public, to the one
    person who just confirmed. The letter's /thank-you address shows nothing personal."""
    letter = letters.get_summary_by_id(
        session, letter_id=confirmed.letter_id, language=confirmed.language
    )
    context = {
        "letter_url": f"{app_settings(request).base_url}/letters/{letter.slug}{letter.lang_query}",
        "details": confirmed.details,
        "countries": country_names(chrome_locale(letter.language)),
    }
    return _signer_page(request, "signatures/thank_you.html", letter, context, token_page=True)


@router.api_route("/letters/{slug}/thank-you", methods=["GET", "HEAD"])
def thank_you(request: Request, session: SessionDep, slug: str) -> Response:
    letter = _public_summary(request, session, slug)
    letter_url = f"{app_settings(request).base_url}/letters/{letter.slug}{letter.lang_query}"
    context: dict[str, object] = {"letter_url": letter_url, "details": None, "countries": {}}
    return _signer_page(request, "signatures/thank_you.html", letter, context)


@router.api_route("/withdraw/{token}", methods=["GET", "HEAD"])
def withdraw_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, Purpose.WITHDRAW)


@router.post("/withdraw/{token}")
def withdraw_signature(
    request: Request, session: SessionDep, token: str, data: Annotated[ButtonFormData, Form()]
) -> Response:
    withdrawn = service.withdraw(
        session,
        tokens=app_tokens(request),
        token=token,
        max_age_seconds=_max_age(request, Purpose.WITHDRAW),
    )
    path = f"/letters/{withdrawn.letter_slug}/withdrawn{withdrawn.lang_query}"
    return RedirectResponse(path, status_code=303)


@router.api_route("/letters/{slug}/withdrawn", methods=["GET", "HEAD"])
def withdrawn(request: Request, session: SessionDep, slug: str) -> Response:
    letter = _public_summary(request, session, slug)
    return _signer_page(request, "signatures/withdrawn.html", letter, {})
