"""Who is signed in: the session cookie, read on every workspace request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from app.db import SessionDep, open_session
from app.kit.state import app_settings, app_tokens
from app.organisers import second_factor_service as second_factor
from app.organisers import service
from app.organisers.service import CurrentOrganiser

SESSION_COOKIE = "us_organiser"
# Between the emailed link and the authenticator's code: not a session, five minutes at most.
PENDING_COOKIE = "us_organiser_code"
PENDING_SECONDS = 300
# The pages an organiser may use before enrolling a second factor the policy requires.
ENROLMENT_PATHS = ("/organise/second-factor", "/organise/sign-out")


class SecondFactorRequired(Exception):
    """The policy requires a second factor this organiser has not set up yet."""


class SignInRequired(Exception):
    """No valid session: the workspace sends the visitor to the sign-in page."""


def get_organiser(request: Request, session: SessionDep) -> CurrentOrganiser:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    organiser = (
        service.current_organiser(
            session,
            tokens=app_tokens(request),
            cookie=cookie,
            max_age_seconds=app_settings(request).organiser_session_hours * 3600,
        )
        if cookie
        else None
    )
    if organiser is None:
        raise SignInRequired(request.url.path)
    if (
        not organiser.has_second_factor
        and not request.url.path.startswith(ENROLMENT_PATHS)
        and second_factor.policy_requires(session)
    ):
        raise SecondFactorRequired(request.url.path)
    return organiser


OrganiserDep = Annotated[CurrentOrganiser, Depends(get_organiser)]


def organiser_without_lock(request: Request) -> CurrentOrganiser:
    """The sign-in check on a read-only session, for a route that does something slow (read
    an upload, ask a name server) before it writes. The request's usual session is a writer's:
    on SQLite it would hold the one writer lock meanwhile, and every signer would wait."""
    with open_session(request.app.state.engine) as session:
        return get_organiser(request, session)


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    settings = app_settings(request)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(settings.organiser_session_hours * 3600),
        path="/organise",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/organise",
        secure=app_settings(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )


def set_pending_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        PENDING_COOKIE,
        value,
        max_age=PENDING_SECONDS,
        path="/organise/sign-in",
        secure=app_settings(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_pending_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        PENDING_COOKIE,
        path="/organise/sign-in",
        secure=app_settings(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )
