"""Rendering a workspace page: always with a form token, never cached (render_page also marks
every /organise page not to be indexed)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.kit.pages import render_page


def workspace_page(
    request: Request, name: str, context: dict[str, object], *, status: int = 200
) -> Response:
    return render_page(request, name, context, form=True, status_code=status)
