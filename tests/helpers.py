"""Small helpers that act as a person would: open the page, fill the form, read the mail."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import Engine, update
from sqlmodel import col, select
from starlette.testclient import TestClient

from app.counters.service import fold_pending
from app.db import open_session, utcnow
from app.jobs.models import Job
from app.jobs.worker import JobWorker
from app.letters.models import Letter, LetterStatus
from app.privacy.crypto import Keyring
from app.privacy.keys import parse_encryption_keys, parse_hash_key
from app.signatures.addresses import canonical_email
from app.signatures.models import Signature, SignatureState, Visibility
from app.signatures.service import MAIL_SIGNATURE, new_public_id
from tests.conftest import BASE_URL, TEST_ENCRYPTION_KEY, TEST_HASH_KEY
from tests.html import form_values, parse
from tests.smtp import SMTPServer

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')
LINK = re.compile(re.escape(BASE_URL) + r"(/(?:confirm|withdraw)/[A-Za-z0-9._-]+)")


# What a browser sends with a form posted from one of our own pages (Fetch Metadata, Origin):
# the public forms carry no token, and the cross-origin check reads these.
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": BASE_URL}


def csrf_from(html: str) -> str:
    """The workspace's CSRF token, from one of its pages (public forms carry none)."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign(client: TestClient, slug: str, **fields: str):  # type: ignore[no-untyped-def]
    """Open the letter, fill in the form, send it as a browser on the letter's page would.
    Returns the response (redirects followed)."""
    page = client.get(f"/letters/{slug}")
    assert page.status_code == 200
    assert CSRF_INPUT.search(page.text) is None, "the letter page must be the same for everyone"
    data = {"name": "Anna Example", "email": "anna@example.org", "visibility": "public"}
    data.update(fields)
    return client.post(f"/letters/{slug}/sign", data=data, headers=SAME_ORIGIN)


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


def catch_up_counts(client: TestClient) -> None:
    """What the next freshness interval brings: the counts' recurring job folds what changed,
    and the app's process cache reads the counts again."""
    app = client.app
    fold_pending(app.state.engine)  # type: ignore[attr-defined]
    app.state.counters.forget()  # type: ignore[attr-defined]


def count(client: TestClient, slug: str) -> int:
    """The public count, as /letters/{slug}/count.json gives it once the counts caught up."""
    catch_up_counts(client)
    response = client.get(f"/letters/{slug}/count.json")
    assert response.status_code == 200
    return int(response.json()["signatures"])


def press_button(client: TestClient, path: str, **changes: str):  # type: ignore[no-untyped-def]
    """Open a mailed link's page and press its button (confirm or withdraw), sending the form
    as the browser would (the confirm page's details included), with ``changes`` typed in."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    [form] = [f for f in parse(page.text).find_all("form") if f.attrs.get("method") == "post"]
    return client.post(path, data=form_values(form) | changes, headers=SAME_ORIGIN)


def new_mail(worker: JobWorker, smtp: SMTPServer) -> list[EmailMessage]:
    """Run the mail worker once; the messages the SMTP server received because of it."""
    before = len(smtp.messages)
    worker.run_due()
    return smtp.messages[before:]


def queued_jobs(engine: Engine) -> list[Job]:
    with open_session(engine) as session:
        return list(session.exec(select(Job).order_by(Job.id)).all())  # type: ignore[arg-type]


def mail_jobs(engine: Engine) -> list[Job]:
    """The queued jobs that mail a signer (not housekeeping such as scrubs and purges)."""
    return [job for job in queued_jobs(engine) if job.kind == MAIL_SIGNATURE]


TEST_KEYRING = Keyring(
    encryption_keys=tuple(parse_encryption_keys([TEST_ENCRYPTION_KEY], source="tests")),
    hash_key=parse_hash_key(TEST_HASH_KEY, source="tests"),
)


def address_of(signature: Signature) -> str | None:
    """The signer's address as stored, decrypted with the test keys (None once erased)."""
    if signature.email_encrypted is None:
        return None
    return TEST_KEYRING.decrypt_email(signature.email_encrypted)


def hash_of(letter_id: int, email: str) -> str:
    return TEST_KEYRING.email_hash(letter_id=letter_id, canonical_address=canonical_email(email))


def add_letter(
    engine: Engine,
    slug: str,
    *,
    status: LetterStatus = LetterStatus.OPEN,
    goal: int | None = None,
    closes_at: datetime | None = None,
) -> int:
    with open_session(engine, write=True) as session:
        letter = Letter(
            slug=slug,
            title=f"Letter {slug}",
            summary=f"Summary of {slug}",
            body_markdown=f"The text of {slug}.",
            status=status,
            goal=goal,
            closes_at=closes_at,
            published_at=None if status is LetterStatus.DRAFT else utcnow(),
        )
        session.add(letter)
        session.commit()
        assert letter.id is not None
        return letter.id


def update_letter(engine: Engine, slug: str, **values: object) -> None:
    with open_session(engine, write=True) as session:
        session.execute(update(Letter).where(col(Letter.slug) == slug).values(**values))
        session.commit()


def add_signature(
    engine: Engine,
    slug: str,
    *,
    name: str,
    email: str,
    state: SignatureState = SignatureState.CONFIRMED,
    visibility: Visibility = Visibility.PUBLIC,
    confirmed_at: datetime | None = None,
    city: str = "",
    affiliation: str = "",
    country: str = "",
) -> Signature:
    """A signature stored directly, for pages that need many of them."""
    with open_session(engine, write=True) as session:
        letter_id = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        signature = Signature(
            public_id=new_public_id(),
            letter_id=letter_id,  # type: ignore[arg-type]
            name=name,
            email_encrypted=TEST_KEYRING.encrypt_email(email),
            email_hash=hash_of(letter_id, email),  # type: ignore[arg-type]
            email_domain_hash=TEST_KEYRING.domain_hash(
                letter_id=letter_id,  # type: ignore[arg-type]
                domain=email.rpartition("@")[2],
            ),
            city=city,
            affiliation=affiliation,
            country=country,
            state=state,
            visibility=visibility,
            confirmed_at=confirmed_at or (utcnow() if state is SignatureState.CONFIRMED else None),
        )
        session.add(signature)
        session.commit()
        return signature
