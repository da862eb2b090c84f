"""Signing twice with one mailbox: the same page, no second signature, a reminder by mail."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.mail.worker import MailWorker
from app.signatures.models import SignatureState, Visibility
from app.signatures.service import MAIL_ALREADY_SIGNED, MAIL_CONFIRM
from tests.helpers import (
    count,
    csrf_from,
    links,
    new_mail,
    outbox,
    press_button,
    sign,
    signatures,
    text_part,
)
from tests.smtp import SMTPServer

GMAIL_SPELLINGS = [
    "ANNA.EXAMPLE@GMAIL.COM",
    "annaexample@gmail.com",
    "anna.example+letters@gmail.com",
    "a.n.n.a.e.x.a.m.p.l.e@googlemail.com",
    "  Anna.Example@GoogleMail.com  ",
]
PLAIN_SPELLINGS = ["Anna@Example.org", "ANNA@EXAMPLE.ORG", "anna+petitions@example.org"]
REMINDER_SUBJECT = "A note about your signature on Undersigned"


def _first_signing(client: TestClient, slug: str, email: str, worker: MailWorker, smtp: SMTPServer):  # type: ignore[no-untyped-def]
    response = sign(client, slug, name="Anna Example", email=email, city="Tbilisi")
    assert response.status_code == 200
    [mail] = new_mail(worker, smtp)
    assert mail["Subject"] == "Your confirmation link from Undersigned"
    return response, mail


@pytest.mark.parametrize(
    ("original", "again"),
    [("anna.example@gmail.com", spelling) for spelling in GMAIL_SPELLINGS]
    + [("anna@example.org", spelling) for spelling in PLAIN_SPELLINGS],
)
def test_another_spelling_of_a_pending_signature(
    client: TestClient,
    engine: Engine,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
    original: str,
    again: str,
) -> None:
    first, first_mail = _first_signing(client, letter_slug, original, worker, smtp)
    [before] = signatures(engine)

    second = sign(client, letter_slug, name="Someone Else", email=again, city="Elsewhere")

    # Exactly the same page, so nobody can learn from it whether an address has signed.
    assert second.status_code == first.status_code == 200
    assert second.url == first.url
    assert [r.status_code for r in second.history] == [r.status_code for r in first.history]
    assert second.text == first.text
    # Still one signature, and the first one's details were not overwritten.
    [after] = signatures(engine)
    assert after.id == before.id
    assert after.public_id == before.public_id
    assert (after.name, after.city, after.email) == ("Anna Example", "Tbilisi", before.email)
    assert after.state is SignatureState.PENDING
    assert after.duplicate_notices == 1
    assert [m.kind for m in outbox(engine)] == [MAIL_CONFIRM, MAIL_ALREADY_SIGNED]

    [reminder] = new_mail(worker, smtp)
    assert reminder["To"] == before.email  # the mailbox that signed, as first typed
    assert reminder["Subject"] == REMINDER_SUBJECT
    body = text_part(reminder)
    assert "not confirmed yet" in body
    found = links(reminder)
    assert set(found) == {"confirm", "withdraw"}
    # Freshly signed links, for the same signature: the same opaque id inside.
    first_links = links(first_mail)
    for route in ("confirm", "withdraw"):
        assert found[route].split(".")[0] == first_links[route].split(".")[0]

    # The reminder's link really confirms the one signature.
    confirmed = press_button(client, found["confirm"])
    assert confirmed.status_code == 200
    assert "Thank you" in confirmed.text
    assert [s.state for s in signatures(engine)] == [SignatureState.CONFIRMED]
    assert count(client, letter_slug) == 1


def test_another_spelling_of_a_confirmed_signature(
    client: TestClient, engine: Engine, worker: MailWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    first, mail = _first_signing(client, letter_slug, "anna.example@gmail.com", worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    assert count(client, letter_slug) == 1

    second = sign(client, letter_slug, email="AnnaExample+again@googlemail.com")
    assert second.status_code == 200
    assert second.text == first.text
    [signature] = signatures(engine)
    assert signature.state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1

    [reminder] = new_mail(worker, smtp)
    assert reminder["To"] == "anna.example@gmail.com"
    body = text_part(reminder)
    assert "already confirmed" in body
    assert "not confirmed yet" not in body
    assert set(links(reminder)) == {"withdraw"}  # nothing left to confirm


def test_a_different_mailbox_is_a_different_signature(
    client: TestClient, engine: Engine, worker: MailWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    # Dots only vanish at Gmail; elsewhere they make another address.
    sign(client, letter_slug, email="anna.example@example.org")
    sign(client, letter_slug, email="annaexample@example.org")
    assert [s.email_canonical for s in signatures(engine)] == [
        "anna.example@example.org",
        "annaexample@example.org",
    ]
    mails = new_mail(worker, smtp)
    assert sorted(m["To"] for m in mails) == ["anna.example@example.org", "annaexample@example.org"]
    assert {m["Subject"] for m in mails} == {"Your confirmation link from Undersigned"}


def test_reminders_are_limited_per_signature(
    client: TestClient,
    engine: Engine,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
    settings: Settings,
) -> None:
    limit = 3
    assert settings.duplicate_notice_limit == limit
    first, _ = _first_signing(client, letter_slug, "anna@example.org", worker, smtp)

    reminders = []
    for attempt in range(limit + 3):
        again = sign(client, letter_slug, email=f"anna+try{attempt}@example.org")
        assert again.text == first.text  # the page never changes, even past the limit
        reminders += new_mail(worker, smtp)

    assert len(reminders) == limit
    assert {m["Subject"] for m in reminders} == {REMINDER_SUBJECT}
    assert {m["To"] for m in reminders} == {"anna@example.org"}
    [signature] = signatures(engine)
    assert signature.duplicate_notices == limit
    kinds = [m.kind for m in outbox(engine)]
    assert kinds == [MAIL_CONFIRM] + [MAIL_ALREADY_SIGNED] * limit


def test_signing_again_after_withdrawing(
    client: TestClient, engine: Engine, worker: MailWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    _, first_mail = _first_signing(client, letter_slug, "anna@example.org", worker, smtp)
    old = links(first_mail)
    assert press_button(client, old["confirm"]).status_code == 200
    withdrawn = press_button(client, old["withdraw"])
    assert withdrawn.status_code == 200
    assert "withdrawn" in withdrawn.text
    [gone] = signatures(engine)
    assert gone.state is SignatureState.WITHDRAWN
    assert count(client, letter_slug) == 0

    again = sign(client, letter_slug, name="Anna Returned", email="Anna+back@example.org")
    assert again.status_code == 200
    assert "Check your email" in again.text
    [revived] = signatures(engine)
    assert revived.id == gone.id
    assert revived.state is SignatureState.PENDING
    assert revived.public_id != gone.public_id
    assert revived.name == "Anna Returned"
    assert revived.email == "Anna+back@example.org"
    assert (revived.confirmed_at, revived.withdrawn_at) == (None, None)
    assert revived.visibility is Visibility.PUBLIC
    assert count(client, letter_slug) == 0  # pending again: not counted until confirmed

    [fresh] = new_mail(worker, smtp)
    assert fresh["Subject"] == "Your confirmation link from Undersigned"
    assert fresh["To"] == "Anna+back@example.org"
    new = links(fresh)
    assert set(new) == {"confirm", "withdraw"}
    assert new["confirm"] != old["confirm"]
    assert new["withdraw"] != old["withdraw"]

    # The old links point at a signature that no longer exists in that form.
    csrf = csrf_from(client.get(f"/letters/{letter_slug}").text)
    for path in (old["confirm"], old["withdraw"]):
        assert client.get(path).status_code == 410
        refused = client.post(path, data={"csrf_token": csrf})
        assert refused.status_code == 410
        assert "This link is no longer valid" in refused.text
        assert refused.headers["cache-control"] == "no-store"
    assert [s.state for s in signatures(engine)] == [SignatureState.PENDING]

    assert press_button(client, new["confirm"]).status_code == 200
    assert [s.state for s in signatures(engine)] == [SignatureState.CONFIRMED]
    assert count(client, letter_slug) == 1
    assert "Anna Returned" in client.get(f"/letters/{letter_slug}").text
