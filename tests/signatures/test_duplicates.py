"""Signing again with one mailbox: the same page whatever happened, still one signature, and
nobody can speak for the signer, lock them out, or learn that they signed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, event, update
from sqlmodel import col
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs.models import JobState
from app.jobs.worker import JobWorker
from app.signatures.models import Signature, SignatureState, Visibility
from tests.helpers import (
    SAME_ORIGIN,
    address_of,
    count,
    links,
    new_mail,
    press_button,
    queued_jobs,
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
CONFIRM_SUBJECT = "Your confirmation link from Undersigned"
REMINDER_SUBJECT = "A note about your signature on Undersigned"


def _first_signing(client: TestClient, slug: str, email: str, worker: JobWorker, smtp: SMTPServer):  # type: ignore[no-untyped-def]
    response = sign(client, slug, name="Anna Example", email=email, city="Tbilisi")
    assert response.status_code == 200
    [mail] = new_mail(worker, smtp)
    assert mail["Subject"] == CONFIRM_SUBJECT
    return response, mail


def _gone(client: TestClient, path: str) -> bool:
    return client.get(path).status_code == 410


@pytest.mark.parametrize(
    ("original", "again"),
    [("anna.example@gmail.com", spelling) for spelling in GMAIL_SPELLINGS]
    + [("anna@example.org", spelling) for spelling in PLAIN_SPELLINGS],
)
def test_a_new_submission_for_a_pending_signature_replaces_it(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
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
    # Still one signature; its details and its public id are replaced.
    [after] = signatures(engine)
    assert after.id == before.id
    assert after.public_id != before.public_id
    assert (after.name, after.city) == ("Someone Else", "Elsewhere")
    assert after.state is SignatureState.PENDING
    # The address is not replaced: a variant spelling cannot take the mail over.
    assert address_of(after) == original

    [fresh] = new_mail(worker, smtp)
    assert fresh["Subject"] == CONFIRM_SUBJECT
    assert fresh["To"] == original
    # The older links stop working; the new one shows exactly what will be published.
    assert all(_gone(client, path) for path in links(first_mail).values())
    page = client.get(links(fresh)["confirm"])
    assert page.status_code == 200
    assert "Someone Else" in page.text and "Elsewhere" in page.text
    assert "Anna Example" not in page.text


def test_an_impostor_cannot_speak_for_a_signer(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    victim = "victim@example.org"
    impostor = {"name": "Impostor Name", "affiliation": "Fake Org", "visibility": "public"}
    sign(client, letter_slug, email=victim, **impostor)
    mails = new_mail(worker, smtp)
    sign(client, letter_slug, email=victim, name="Real Victim", visibility="counted_only")
    mails += new_mail(worker, smtp)
    sign(client, letter_slug, email="VICTIM@example.org", **impostor)
    mails += new_mail(worker, smtp)
    assert [m["To"] for m in mails] == [victim] * 3

    # Only the newest mail's link still works, and its page shows the impostor's version.
    assert all(_gone(client, links(m)["confirm"]) for m in mails[:2])
    newest = links(mails[2])["confirm"]
    page = client.get(newest)
    assert page.status_code == 200
    assert "Impostor Name" in page.text and "Fake Org" in page.text
    assert "Everyone: it appears on the letter" in page.text

    # The real signer corrects everything on the page before confirming.
    done = press_button(
        client, newest, name="Real Victim", affiliation="", visibility="counted_only"
    )
    assert done.status_code == 200
    assert "Real Victim" in done.text
    assert "Nobody: your signature is counted, your name is never shown." in done.text
    assert "Impostor Name" not in done.text
    [stored] = signatures(engine)
    assert (stored.name, stored.affiliation, stored.visibility) == (
        "Real Victim",
        "",
        Visibility.COUNTED_ONLY,
    )
    assert stored.state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1
    for path in ("", "/signatures", "/thank-you"):
        shown = client.get(f"/letters/{letter_slug}{path}").text
        assert "Impostor Name" not in shown and "Real Victim" not in shown

    # Once confirmed, a new submission changes nothing the signer chose.
    sign(client, letter_slug, email=victim, **impostor)
    [after] = signatures(engine)
    assert (after.name, after.visibility) == ("Real Victim", Visibility.COUNTED_ONLY)


def test_a_variant_spelling_cannot_take_over_the_mail(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    """Found in an attack: "carol+mallory@" folds to carol's mailbox; were it to replace the
    stored address, its holder could confirm, and carol's reminders would go to it."""
    sign(client, letter_slug, email="carol@example.net", name="Carol Owner")
    sign(client, letter_slug, email="carol+mallory@example.net", name="Mallory Impostor")
    sign(client, letter_slug, email="CAROL+x@example.net", name="Mallory Impostor")
    mails = new_mail(worker, smtp)
    assert {m["To"] for m in mails} == {"carol@example.net"}
    assert press_button(client, links(mails[-1])["confirm"], name="Carol Owner").status_code == 200
    request = client.post(
        f"/letters/{letter_slug}/manage",
        data={"email": "carol+again@example.net"},
        headers=SAME_ORIGIN,
    )
    assert request.status_code == 200
    assert [m["To"] for m in new_mail(worker, smtp)] == []  # the limit: 3 mails already today
    [stored] = signatures(engine)
    assert address_of(stored) == "carol@example.net"
    assert {delivery.rcpt_tos for delivery in smtp.handler.envelopes} == {("carol@example.net",)}


def test_a_confirmed_signature_keeps_its_details_and_can_be_managed(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    first, mail = _first_signing(client, letter_slug, "anna.example@gmail.com", worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200

    second = sign(client, letter_slug, name="Other Name", email="AnnaExample+again@googlemail.com")
    assert second.text == first.text
    [signature] = signatures(engine)
    assert (signature.name, signature.state) == ("Anna Example", SignatureState.CONFIRMED)
    assert count(client, letter_slug) == 1

    [reminder] = new_mail(worker, smtp)
    assert reminder["Subject"] == REMINDER_SUBJECT
    assert reminder["To"] == "anna.example@gmail.com"  # the confirmed mailbox, as confirmed
    assert "confirmed and counted once" in text_part(reminder)
    manage = links(reminder)
    assert set(manage) == {"confirm", "withdraw"}
    page = client.get(manage["confirm"])
    assert "Your signature is confirmed" in page.text and "Anna Example" in page.text
    saved = press_button(client, manage["confirm"], visibility="letter_only", city="Batumi")
    assert saved.status_code == 200
    [changed] = signatures(engine)
    assert (changed.visibility, changed.city) == (Visibility.LETTER_ONLY, "Batumi")
    assert changed.state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1


def test_a_different_mailbox_is_a_different_signature(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    # Dots only vanish at Gmail; elsewhere they make another address.
    sign(client, letter_slug, email="anna.example@example.org")
    sign(client, letter_slug, email="annaexample@example.org")
    stored = signatures(engine)
    assert [address_of(s) for s in stored] == [
        "anna.example@example.org",
        "annaexample@example.org",
    ]
    assert stored[0].email_hash != stored[1].email_hash
    mails = new_mail(worker, smtp)
    assert sorted(m["To"] for m in mails) == ["anna.example@example.org", "annaexample@example.org"]


def _age_mail_window(engine: Engine, hours: float) -> None:
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature).values(mail_window_started_at=utcnow() - timedelta(hours=hours))
        )
        session.commit()


def test_mails_are_limited_per_window_not_for_life(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    settings: Settings,
) -> None:
    limit = settings.signer_mail_limit
    assert limit == 3
    first, _ = _first_signing(client, letter_slug, "anna@example.org", worker, smtp)
    mails = []
    for attempt in range(limit + 2):
        again = sign(client, letter_slug, email=f"anna+try{attempt}@example.org")
        assert again.text == first.text  # the page never changes, even past the limit
        mails += new_mail(worker, smtp)
    assert len(mails) == limit - 1
    # Past the limit nothing changed: the newest mail's link is still the valid one.
    newest = links(mails[-1])["confirm"]
    assert client.get(newest).status_code == 200

    # A day later the owner can get a fresh link again: nobody locked them out for life.
    _age_mail_window(engine, hours=settings.signer_mail_window_hours + 1)
    sign(client, letter_slug, email="anna@example.org", name="Anna Owner")
    [fresh] = new_mail(worker, smtp)
    assert fresh["Subject"] == CONFIRM_SUBJECT
    assert press_button(client, links(fresh)["confirm"]).status_code == 200
    [signature] = signatures(engine)
    assert (signature.name, signature.state) == ("Anna Owner", SignatureState.CONFIRMED)


@contextmanager
def _clock_set_back(seconds: float) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time() - seconds))
        yield


def test_signing_again_after_the_link_expired_gives_a_working_link(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    settings: Settings,
) -> None:
    sign(client, letter_slug, email="late@example.org")
    with _clock_set_back((settings.confirm_token_max_age_days + 1) * 86_400):
        [old] = new_mail(worker, smtp)
    expired = client.get(links(old)["confirm"])
    assert expired.status_code == 400
    assert "Sign again to get a new one" in expired.text

    sign(client, letter_slug, email="late@example.org")
    [fresh] = new_mail(worker, smtp)
    assert press_button(client, links(fresh)["confirm"]).status_code == 200
    assert count(client, letter_slug) == 1


def test_manage_my_signature_says_the_same_whatever_the_address(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    _first_signing(client, letter_slug, "known@example.org", worker, smtp)
    page = client.get(f"/letters/{letter_slug}/manage")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers

    def ask(email: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"/letters/{letter_slug}/manage", data={"email": email}, headers=SAME_ORIGIN
        )

    unknown = ask("stranger@example.org")
    pending = ask("KNOWN@example.org")
    assert unknown.status_code == pending.status_code == 200
    assert unknown.text == pending.text
    [link_mail] = new_mail(worker, smtp)  # only the mailbox that signed gets one
    assert link_mail["To"] == "known@example.org"
    assert link_mail["Subject"] == CONFIRM_SUBJECT
    assert press_button(client, links(link_mail)["confirm"]).status_code == 200

    confirmed = ask("known@example.org")
    assert confirmed.text == unknown.text
    [manage] = new_mail(worker, smtp)
    assert manage["Subject"] == REMINDER_SUBJECT
    assert set(links(manage)) == {"confirm", "withdraw"}
    # The limit covers these mails too (3 per day: the first, the link mail, this one).
    assert ask("known@example.org").text == unknown.text
    assert new_mail(worker, smtp) == []
    # Every request queued exactly one job; the refused ones are recorded as dropped.
    states = [job.state for job in queued_jobs(engine)]
    assert states.count(JobState.DONE) == 3
    assert states.count(JobState.DROPPED) == 2

    bad = ask("not an address")
    assert bad.status_code == 400
    assert "Please enter a valid email address" in bad.text
    assert 'value="not an address"' in bad.text


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_signing_does_the_same_work_whether_or_not_the_mailbox_signed(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:

    def post(path: str, email: str) -> list[str]:
        data = {"name": "Work Test", "email": email, "visibility": "public"}
        with _statements(engine) as seen:
            response = client.post(f"/letters/{letter_slug}/{path}", data=data, headers=SAME_ORIGIN)
        assert response.status_code in (200, 303)
        return seen

    work = {
        "new": post("sign", "new@example.org"),
        "pending again": post("sign", "new@example.org"),
        "new 2": post("sign", "other@example.org"),
        "pending, third": post("sign", "new@example.org"),
        "past the limit": post("sign", "new@example.org"),
    }
    with open_session(engine, write=True) as session:
        session.execute(
            update(Signature)
            .where(col(Signature.name) == "Work Test")
            .values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
        )
        session.commit()
    work["confirmed again"] = post("sign", "other@example.org")
    assert len({tuple(statements) for statements in work.values()}) == 1, work

    manage = {
        "unknown": post("manage", "nobody@example.org"),
        "signed": post("manage", "other@example.org"),
        "limited": post("manage", "new@example.org"),
    }
    assert len({tuple(statements) for statements in manage.values()}) == 1, manage


def test_signing_again_after_withdrawing_is_a_new_signature(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    _, first_mail = _first_signing(client, letter_slug, "anna@example.org", worker, smtp)
    old = links(first_mail)
    assert press_button(client, old["confirm"]).status_code == 200
    withdrawn = press_button(client, old["withdraw"])
    assert withdrawn.status_code == 200
    [gone] = signatures(engine)
    assert gone.state is SignatureState.WITHDRAWN
    assert count(client, letter_slug) == 0

    again = sign(client, letter_slug, name="Anna Returned", email="Anna+back@example.org")
    assert "Check your email" in again.text
    erased, revived = signatures(engine)
    assert erased.id == gone.id and erased.state is SignatureState.WITHDRAWN
    assert revived.id != gone.id
    assert (revived.state, revived.name) == (SignatureState.PENDING, "Anna Returned")
    assert address_of(revived) == "Anna+back@example.org"

    [fresh] = new_mail(worker, smtp)
    assert fresh["To"] == "Anna+back@example.org"
    new = links(fresh)
    # The old links lead to the withdrawn signature, never to the new one.
    assert "This signature was withdrawn" in client.get(old["confirm"]).text
    assert press_button(client, new["confirm"]).status_code == 200
    assert count(client, letter_slug) == 1
    assert "Anna Returned" in client.get(f"/letters/{letter_slug}").text
