"""Updates as a test meets them: signers with a consent and a language, an organiser of the
demo letter, and the update written and sent through the workspace's own forms."""

from __future__ import annotations

import re
from email.message import EmailMessage

from sqlalchemy import Engine, update
from sqlmodel import col, select
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.letters.models import Letter
from app.organisers.service import add_to_letter, find_organiser_id
from app.signatures.models import Signature, SignatureState
from tests.conftest import BASE_URL
from tests.helpers import TEST_KEYRING, add_signature, csrf_from, text_part
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

UNSUBSCRIBE = re.compile(re.escape(BASE_URL) + r"(/letters/[a-z0-9-]+/unsubscribe/[A-Za-z0-9._-]+)")


def letter_id_of(engine: Engine, slug: str) -> int:
    with open_session(engine) as session:
        found = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        assert found is not None
        return found


def organise(engine: Engine, email: str, letter_id: int) -> None:
    add_organiser(engine, email)
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=email, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=letter_id)
        session.commit()


def signed_in_organiser(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, slug: str
) -> TestClient:
    organise(engine, "writer@example.org", letter_id_of(engine, slug))
    sign_in(client, "writer@example.org", worker, smtp)
    return client


def signer(
    engine: Engine,
    slug: str,
    email: str,
    *,
    may_contact: bool = True,
    language: str = "en",
    state: SignatureState = SignatureState.CONFIRMED,
) -> Signature:
    signature = add_signature(engine, slug, name=f"Signer {email[:6]}", email=email, state=state)
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature)
            .where(col(Signature.id) == signature.id)
            .values(may_contact=may_contact, language=language)
        )
        session.commit()
        return session.get_one(Signature, signature.id)


def write_update(
    client: TestClient,
    letter_id: int,
    *,
    subject: str = "News from the letter",
    body: str = "We delivered it. **Thank you.**",
    language: str = "en",
) -> str:
    """Write a draft through the form; returns its page's path."""
    page = client.get(f"/organise/letters/{letter_id}/updates/new")
    assert page.status_code == 200, page.text
    response = client.post(
        f"/organise/letters/{letter_id}/updates/new",
        data={
            "subject": subject,
            "body_markdown": body,
            "language": language,
            "action": "save",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def add_version(client: TestClient, update_path: str, language: str, subject: str, body: str):  # type: ignore[no-untyped-def]
    page = client.get(f"{update_path}/versions/new")
    assert page.status_code == 200, page.text
    return client.post(
        f"{update_path}/versions/new",
        data={
            "subject": subject,
            "body_markdown": body,
            "language": language,
            "action": "save",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )


def press_send(client: TestClient, update_path: str):  # type: ignore[no-untyped-def]
    page = client.get(f"{update_path}/send")
    assert page.status_code == 200, page.text
    return client.post(
        f"{update_path}/send", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )


def unsubscribe_link(mail: EmailMessage) -> str:
    match = UNSUBSCRIBE.search(text_part(mail))
    assert match, "no unsubscribe link in the mail"
    return match.group(1)


def recipients_of(smtp: SMTPServer) -> list[str]:
    return sorted(address for envelope in smtp.handler.envelopes for address in envelope.rcpt_tos)
