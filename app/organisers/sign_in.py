"""Signing in to the workspace by emailed one-time link (GET shows a button; POST signs in),
and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.db import SessionDep
from app.kit.i18n import N_
from app.kit.pages import render_page
from app.kit.security import csrf_valid
from app.kit.state import app_settings, app_tokens
from app.organisers import second_factor_service as second_factor
from app.organisers import service
from app.organisers.auth import (
    OrganiserDep,
    clear_session_cookie,
    set_pending_cookie,
    set_session_cookie,
)
from app.signatures.schemas import ButtonFormData, EmailFormData, SignForm, parse_email_only

router = APIRouter(prefix="/organise")

EXPIRED_FORM = N_("Your form had expired, so nothing was sent. Please send it again.")


def _sign_in_page(
    request: Request, *, form: SignForm, notice: str = "", status_code: int = 200
) -> Response:
    context = {"form": form, "notice": notice}
    return render_page(
        request, "organise/sign_in.html", context, form=True, status_code=status_code
    )


@router.api_route("/sign-in", methods=["GET", "HEAD"])
def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, form=SignForm(values={"email": ""}))


@router.post("/sign-in")
def request_sign_in(
    request: Request, session: SessionDep, data: Annotated[EmailFormData, Form()]
) -> Response:
    """The same page follows whether or not the address has an account."""
    form = parse_email_only(data.model_dump())
    if not csrf_valid(request, data.csrf_token):
        return _sign_in_page(request, form=form, notice=EXPIRED_FORM, status_code=400)
    if not form.valid:
        return _sign_in_page(request, form=form, status_code=400)
    settings = app_settings(request)
    service.request_sign_in(
        session,
        email=form.valid_email(),
        keyring=settings.keyring(),
        per_hour=settings.sign_in_links_per_hour,
        link_minutes=settings.sign_in_link_minutes,
    )
    return RedirectResponse("/organise/sign-in/sent", status_code=303)


@router.api_route("/sign-in/sent", methods=["GET", "HEAD"])
def sign_in_sent(request: Request) -> Response:
    minutes = int(app_settings(request).sign_in_link_minutes)
    return render_page(request, "organise/sign_in_sent.html", {"minutes": minutes})


def _link_age(request: Request) -> float:
    return app_settings(request).sign_in_link_minutes * 60


@router.api_route("/sign-in/{token}", methods=["GET", "HEAD"])
def sign_in_link_page(request: Request, session: SessionDep, token: str) -> Response:
    service.check_sign_in_link(
        session, tokens=app_tokens(request), token=token, max_age_seconds=_link_age(request)
    )
    context = {"notice": ""}
    return render_page(request, "organise/sign_in_link.html", context, form=True, token_page=True)


@router.post("/sign-in/{token}")
def use_sign_in_link(
    request: Request, session: SessionDep, token: str, data: Annotated[ButtonFormData, Form()]
) -> Response:
    if not csrf_valid(request, data.csrf_token):
        return render_page(
            request,
            "organise/sign_in_link.html",
            {"notice": EXPIRED_FORM},
            form=True,
            token_page=True,
            status_code=400,
        )
    organiser = service.use_sign_in_link(
        session, tokens=app_tokens(request), token=token, max_age_seconds=_link_age(request)
    )
    if organiser.totp_secret_encrypted is not None:
        # The emailed link is one factor; the authenticator's code is the second.
        response = RedirectResponse("/organise/sign-in/code", status_code=303)
        set_pending_cookie(
            response, request, second_factor.pending_token(app_tokens(request), organiser)
        )
        return response
    service.record(session, organiser_id=organiser.id, letter_id=None, action="organiser.signed_in")
    response = RedirectResponse("/organise", status_code=303)
    set_session_cookie(response, request, service.session_token(app_tokens(request), organiser))
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    data: Annotated[ButtonFormData, Form()],
) -> Response:
    """Ends this organiser's sessions everywhere, not only in this browser."""
    if csrf_valid(request, data.csrf_token):
        service.sign_out_everywhere(session, organiser=organiser)
    response = RedirectResponse("/organise/sign-in", status_code=303)
    clear_session_cookie(response, request)
    return response
