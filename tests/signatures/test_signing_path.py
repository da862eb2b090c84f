"""The whole path through HTTP with a real SMTP server receiving the mail."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState
from tests.helpers import (
    SAME_ORIGIN,
    address_of,
    count,
    hash_of,
    links,
    sign,
    signatures,
    text_part,
)
from tests.smtp import SMTPServer


def test_sign_mail_confirm_and_count(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert count(client, letter_slug) == 0

    response = sign(client, letter_slug, name="Anna Example", email="Anna@Example.org")
    assert response.status_code == 200
    assert "Check your email" in response.text
    assert "anna@example.org" not in response.text.lower()
    [signature] = signatures(engine)
    assert signature.state is SignatureState.PENDING
    assert address_of(signature) == "Anna@example.org"
    assert signature.email_hash == hash_of(signature.letter_id, "anna@example.org")
    assert smtp.messages == []  # nothing is sent inside the request

    assert worker.run_due() == 1
    [mail] = smtp.messages
    assert mail["To"] == "Anna@example.org"
    assert mail["Subject"] == "Your confirmation link from Undersigned"
    assert "prisoner" not in mail["Subject"].lower()  # neutral subject
    found = links(mail)
    assert set(found) == {"confirm", "withdraw"}
    assert "http://undersigned.test/confirm/" in text_part(mail)

    # Opening the link (as a mail scanner would) changes nothing.
    page = client.get(found["confirm"])
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert client.head(found["confirm"]).status_code == 200
    assert signatures(engine)[0].state is SignatureState.PENDING
    assert count(client, letter_slug) == 0

    confirmed = client.post(found["confirm"], data={}, headers=SAME_ORIGIN)
    assert confirmed.status_code == 200
    assert "Thank you" in confirmed.text
    assert signatures(engine)[0].state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1

    # Confirming twice is harmless.
    again = client.post(found["confirm"], data={}, headers=SAME_ORIGIN)
    assert again.status_code == 200
    assert count(client, letter_slug) == 1

    letter_page = client.get(f"/letters/{letter_slug}")
    assert "Anna Example" in letter_page.text
