"""What create_app keeps on the application, read from a request."""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.kit.tokens import Tokens


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens
