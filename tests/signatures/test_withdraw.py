"""Withdrawing through the mailed link: a page with a button, then the signature stops
counting and the signer's name, place and affiliation are erased."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import utcnow
from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState, Visibility
from tests.helpers import (
    SAME_ORIGIN,
    address_of,
    count,
    links,
    mail_jobs,
    new_mail,
    press_button,
    sign,
    signatures,
)
from tests.html import parse
from tests.smtp import SMTPServer

SIGNER = {
    "name": "Irakli Withdrawer",
    "email": "irakli@example.org",
    "affiliation": "Tbilisi State Conservatoire",
    "city": "Kutaisi",
    "country": "GE",
    "visibility": "public",
}


def signed_and_confirmed(
    client: TestClient, slug: str, worker: JobWorker, smtp: SMTPServer
) -> dict[str, str]:
    assert sign(client, slug, **SIGNER).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    assert press_button(client, found["confirm"]).status_code == 200
    return found


def shown_anywhere(client: TestClient, slug: str, *words: str) -> list[str]:
    """Which of the words appear on the public pages of the letter."""
    pages = [
        client.get("/").text,
        client.get(f"/letters/{slug}").text,
        client.get(f"/letters/{slug}/signatures").text,
        client.get(f"/letters/{slug}/count.json").text,
    ]
    return [word for word in words if any(word in page for page in pages)]


def test_withdrawing_a_confirmed_signature(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_confirmed(client, letter_slug, worker, smtp)
    details = ("Irakli Withdrawer", "Tbilisi State Conservatoire", "Kutaisi")
    assert shown_anywhere(client, letter_slug, *details) == list(details)
    assert count(client, letter_slug) == 1

    # The link opens a page with a button; opening it changes nothing.
    page = client.get(found["withdraw"])
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Withdraw your signature" in page.text
    form = parse(page.text).find("form", method="post")
    assert form is not None
    assert form.find("button") is not None
    assert client.head(found["withdraw"]).status_code == 200
    assert signatures(engine)[0].state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1

    before = utcnow()
    done = client.post(found["withdraw"], data={}, headers=SAME_ORIGIN)
    assert done.status_code == 200
    assert [r.status_code for r in done.history] == [303]
    assert str(done.url).endswith(f"/letters/{letter_slug}/withdrawn")
    assert "Your signature is withdrawn" in done.text

    [stored] = signatures(engine)
    assert stored.state is SignatureState.WITHDRAWN
    assert stored.withdrawn_at is not None and stored.withdrawn_at >= before
    assert (stored.name, stored.affiliation, stored.city, stored.country) == ("", "", "", "")
    assert stored.visibility is Visibility.COUNTED_ONLY
    # Nothing about the signer is left: no address, no hash of it; only that it counted once.
    assert (stored.email_encrypted, stored.email_hash, stored.email_domain_hash) == (None,) * 3
    assert stored.confirmed_at is not None

    assert count(client, letter_slug) == 0
    assert shown_anywhere(client, letter_slug, *details) == []
    signers = client.get(f"/letters/{letter_slug}/signatures")
    assert "Nobody has chosen to be named publicly yet." in signers.text


def test_withdrawing_twice_is_harmless(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_confirmed(client, letter_slug, worker, smtp)
    assert press_button(client, found["withdraw"]).status_code == 200
    [first] = signatures(engine)

    # The link now says it is done, and offers no button.
    page = client.get(found["withdraw"])
    assert page.status_code == 200
    assert "Your signature is withdrawn" in page.text
    assert parse(page.text).find("form", method="post") is None

    again = client.post(found["withdraw"], data={}, headers=SAME_ORIGIN)
    assert again.status_code == 200
    [second] = signatures(engine)
    assert second.state is SignatureState.WITHDRAWN
    assert second.withdrawn_at == first.withdrawn_at  # the first withdrawal is the one kept
    assert count(client, letter_slug) == 0


def test_a_withdrawn_signature_cannot_be_confirmed_again(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_confirmed(client, letter_slug, worker, smtp)
    assert press_button(client, found["withdraw"]).status_code == 200

    page = client.get(found["confirm"])
    assert page.status_code == 200
    assert "This signature was withdrawn" in page.text
    assert parse(page.text).find("form", method="post") is None
    refused = client.post(found["confirm"], data={}, headers=SAME_ORIGIN)
    assert refused.status_code == 409
    assert "This signature was withdrawn" in refused.text
    assert signatures(engine)[0].state is SignatureState.WITHDRAWN
    assert count(client, letter_slug) == 0


def test_withdrawing_before_confirming(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug, **SIGNER).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    assert press_button(client, found["withdraw"]).status_code == 200
    # It never counted, so nothing of it is kept at all: no row, no job that mentions it.
    assert signatures(engine) == []
    assert mail_jobs(engine) == []
    assert count(client, letter_slug) == 0
    for path in (found["confirm"], found["withdraw"]):
        refused = client.post(path, data={}, headers=SAME_ORIGIN)
        assert refused.status_code == 410
        assert "This link is no longer valid" in refused.text
    assert signatures(engine) == []


def test_only_the_withdrawn_signer_disappears(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_confirmed(client, letter_slug, worker, smtp)
    assert sign(client, letter_slug, name="Nino Staying", email="nino@example.org").status_code
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    assert count(client, letter_slug) == 2

    assert press_button(client, found["withdraw"]).status_code == 200
    assert count(client, letter_slug) == 1
    assert shown_anywhere(client, letter_slug, "Nino Staying", "Irakli") == ["Nino Staying"]
    states = {address_of(s) or "(erased)": s.state for s in signatures(engine)}
    assert states == {
        "(erased)": SignatureState.WITHDRAWN,
        "nino@example.org": SignatureState.CONFIRMED,
    }
