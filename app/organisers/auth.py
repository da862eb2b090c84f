"""Who is signed in: the session cookie, read on every workspace request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from app.config import Settings
from app.db import SessionDep
from app.kit.tokens import Tokens
from app.organisers import service
from app.organisers.service import CurrentOrganiser

SESSION_COOKIE = "us_organiser"


class SignInRequired(Exception):
    """No valid session: the workspace sends the visitor to the sign-in page."""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def get_organiser(request: Request, session: SessionDep) -> CurrentOrganiser:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    organiser = (
        service.current_organiser(
            session,
            tokens=_tokens(request),
            cookie=cookie,
            max_age_seconds=_settings(request).organiser_session_hours * 3600,
        )
        if cookie
        else None
    )
    if organiser is None:
        raise SignInRequired(request.url.path)
    return organiser


OrganiserDep = Annotated[CurrentOrganiser, Depends(get_organiser)]


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    settings = _settings(request)
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
        secure=_settings(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )
