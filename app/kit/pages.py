"""Rendering a page with what every template needs, and the right caching headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from app.config import Settings
from app.kit.security import CSRF_FIELD, csrf_token
from app.kit.templating import DEFAULT_LOCALE, templates_for


def render_page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    form: bool = False,
    no_store: bool = False,
    token_page: bool = False,
    locale: str = DEFAULT_LOCALE,
) -> Response:
    """Pages with a form (and so a CSRF token) or personal data are never stored by caches.
    A ``token_page`` (opened from a mailed link) sends no Referer anywhere, not even to us.
    ``locale``: the language of the page's own text (a catalogue in app/locales)."""
    templates: Jinja2Templates = (
        request.app.state.templates if locale == DEFAULT_LOCALE else templates_for(locale)
    )
    settings: Settings = request.app.state.settings
    full_context = {
        "site_name": settings.site_name,
        "base_url": settings.base_url,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request) if form else "",
        "lang_query": "",  # "?lang=ru" keeps a signer's links in the language they read
        **context,
    }
    response = templates.TemplateResponse(request, name, full_context, status_code=status_code)
    response.headers["cache-control"] = (
        "no-store" if form or no_store or token_page else "public, max-age=30"
    )
    if token_page:
        response.headers["referrer-policy"] = "no-referrer"
    if request.url.path.startswith("/organise"):
        # The workspace holds unpublished text and personal data: never indexed.
        response.headers["x-robots-tag"] = "noindex, nofollow"
    return response
