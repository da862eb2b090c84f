"""Organisers as a test meets them: an account made by the command's service, and a browser
session obtained the way a person gets one (email, link, button)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.organisers.service import create_organiser
from tests.conftest import BASE_URL
from tests.helpers import TEST_KEYRING, csrf_from, new_mail, text_part
from tests.smtp import SMTPServer

SIGN_IN_LINK = re.compile(re.escape(BASE_URL) + r"(/organise/sign-in/[A-Za-z0-9._-]+)")


def add_organiser(engine: Engine, email: str, *, admin: bool = False) -> None:
    with open_session(engine, write=True) as session:
        create_organiser(session, email=email, is_admin=admin, keyring=TEST_KEYRING)
        session.commit()


def ask_for_link(client: TestClient, email: str):  # type: ignore[no-untyped-def]
    page = client.get("/organise/sign-in")
    assert page.status_code == 200
    return client.post(
        "/organise/sign-in", data={"email": email, "csrf_token": csrf_from(page.text)}
    )


def link_in(mail: EmailMessage) -> str:
    match = SIGN_IN_LINK.search(text_part(mail))
    assert match, "no sign-in link in the mail"
    return match.group(1)


def sign_in(client: TestClient, email: str, worker: JobWorker, smtp: SMTPServer) -> None:
    """Ask for a link, open it, press the button: the client then holds a session."""
    assert ask_for_link(client, email).status_code == 200
    [mail] = new_mail(worker, smtp)
    path = link_in(mail)
    page = client.get(path)
    assert page.status_code == 200, page.text
    done = client.post(path, data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/organise"
