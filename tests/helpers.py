"""Small helpers that act as a person would: open the page, fill the form, read the mail."""

from __future__ import annotations

import re
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from app.db import open_session
from app.signatures.models import Signature
from tests.conftest import BASE_URL

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')
LINK = re.compile(re.escape(BASE_URL) + r"(/(?:confirm|withdraw)/[A-Za-z0-9._-]+)")


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign(client: TestClient, slug: str, **fields: str):  # type: ignore[no-untyped-def]
    """Open the letter, fill in the form, send it. Returns the response (redirects followed)."""
    page = client.get(f"/letters/{slug}")
    assert page.status_code == 200
    data = {"name": "Anna Example", "email": "anna@example.org", "visibility": "public"}
    data.update(fields)
    data.setdefault("csrf_token", csrf_from(page.text))
    return client.post(f"/letters/{slug}/sign", data=data)


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def links(message: EmailMessage) -> dict[str, str]:
    """Paths of the confirm and withdraw links in the mail's text part."""
    found = {}
    for path in LINK.findall(text_part(message)):
        found[path.split("/")[1]] = path
    return found


def signatures(engine: Engine) -> list[Signature]:
    with open_session(engine) as session:
        return list(session.exec(select(Signature).order_by(Signature.id)).all())  # type: ignore[arg-type]
