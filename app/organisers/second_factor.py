"""The second factor's pages: the code after the emailed link, setting up an authenticator
app, turning it off, and the admin's policy. Included before the sign-in routes, so
/organise/sign-in/code is never read as a link's token."""

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
    PENDING_COOKIE,
    PENDING_SECONDS,
    OrganiserDep,
    clear_pending_cookie,
    set_session_cookie,
)
from app.organisers.models import Organiser

router = APIRouter(prefix="/organise")

WRONG_CODE = N_("That code is not right, or was used already. Try the newest one in your app.")
EXPIRED = N_("Your form had expired, so nothing was changed. Please send it again.")


def _code_page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    return render_page(
        request, "organise/code.html", {"error": error}, form=True, status_code=status_code
    )


@router.api_route("/sign-in/code", methods=["GET", "HEAD"])
def code_page(request: Request) -> Response:
    if PENDING_COOKIE not in request.cookies:
        return RedirectResponse("/organise/sign-in", status_code=303)
    return _code_page(request)


@router.post("/sign-in/code")
def check_code(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_valid(request, csrf_token):
        return _code_page(request, error=EXPIRED, status_code=400)
    try:
        value = second_factor.finish_sign_in(
            session,
            tokens=app_tokens(request),
            pending=request.cookies.get(PENDING_COOKIE, ""),
            code=code[:20],
            keyring=app_settings(request).keyring(),
            max_age_seconds=PENDING_SECONDS,
        )
    except second_factor.WrongCode:
        return _code_page(request, error=WRONG_CODE, status_code=400)
    except second_factor.SecondFactorExpired:
        return RedirectResponse("/organise/sign-in", status_code=303)
    response = RedirectResponse("/organise", status_code=303)
    clear_pending_cookie(response, request)
    set_session_cookie(response, request, value)
    return response


def _second_factor_page(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    settings = app_settings(request)
    account = settings.keyring().decrypt_email(
        session.get_one(Organiser, organiser.id).email_encrypted
    )
    enrolment = (
        None
        if organiser.has_second_factor
        else second_factor.start_enrolment(
            app_tokens(request), organiser=organiser, account=account, issuer=settings.site_name
        )
    )
    context = {
        "organiser": organiser,
        "enrolment": enrolment,
        "required": second_factor.policy_requires(session),
        "error": error,
    }
    return render_page(
        request, "organise/second_factor.html", context, form=True, status_code=status
    )


@router.api_route("/second-factor", methods=["GET", "HEAD"])
def second_factor_page(request: Request, session: SessionDep, organiser: OrganiserDep) -> Response:
    return _second_factor_page(request, session, organiser)


@router.post("/second-factor")
def enrol(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    sealed: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_valid(request, csrf_token):
        return _second_factor_page(request, session, organiser, error=EXPIRED, status=400)
    try:
        second_factor.confirm_enrolment(
            session,
            organiser=organiser,
            tokens=app_tokens(request),
            sealed=sealed,
            code=code[:20],
            keyring=app_settings(request).keyring(),
        )
    except (second_factor.WrongCode, second_factor.SecondFactorExpired):
        return _second_factor_page(request, session, organiser, error=WRONG_CODE, status=400)
    return RedirectResponse("/organise", status_code=303)


@router.post("/second-factor/remove")
def remove(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    code: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_valid(request, csrf_token) or second_factor.policy_requires(session):
        return _second_factor_page(request, session, organiser, error=EXPIRED, status=400)
    try:
        second_factor.remove(
            session, organiser=organiser, code=code[:20], keyring=app_settings(request).keyring()
        )
    except second_factor.WrongCode:
        return _second_factor_page(request, session, organiser, error=WRONG_CODE, status=400)
    return RedirectResponse("/organise/second-factor", status_code=303)


@router.post("/policy")
def set_policy(
    request: Request,
    session: SessionDep,
    organiser: OrganiserDep,
    require_second_factor: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Admins only: require a second factor of every organiser."""
    if not organiser.is_admin:
        raise service.NotAllowed("policy")
    if csrf_valid(request, csrf_token):
        second_factor.set_policy(session, admin=organiser, required=require_second_factor == "on")
    return RedirectResponse("/organise", status_code=303)
