"""The unsubscribe link: opening it changes nothing, its button (with the form token) does, a
mail provider's one-click POST (RFC 8058, no cookie, no form token) does too; pressing twice is
harmless; a tampered, misplaced or foreign token is refused with a clear page."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import open_session
from app.kit.tokens import Purpose, Tokens
from app.signatures.models import Signature, SignatureState
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import SAME_ORIGIN, add_letter, press_button
from tests.updates.helpers import signer

TOKENS = Tokens([TEST_SECRET_KEY])


def may_contact(engine: Engine, signature_id: int | None) -> bool:
    with open_session(engine) as session:
        return session.get_one(Signature, signature_id).may_contact


def link(slug: str, signature: Signature, purpose: Purpose = Purpose.UNSUBSCRIBE) -> str:
    return f"/letters/{slug}/unsubscribe/" + TOKENS.make(purpose, signature.public_id)


@pytest.fixture
def reader(engine: Engine, letter_slug: str) -> Signature:
    return signer(engine, letter_slug, "reader@example.org")


def test_opening_the_link_changes_nothing_and_the_button_unsubscribes(
    client: TestClient, engine: Engine, letter_slug: str, reader: Signature
) -> None:
    path = link(letter_slug, reader)
    page = client.get(path)
    assert page.status_code == 200
    assert "Unsubscribe from updates" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert client.head(path).status_code == 200
    assert may_contact(engine, reader.id)

    done = client.post(path, data={"contact": "off"}, headers=SAME_ORIGIN)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert not may_contact(engine, reader.id)
    again = client.post(path, data={"contact": "off"}, headers=SAME_ORIGIN)
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    assert not may_contact(engine, reader.id)
    # Changed their mind: the page offers to hear from the organisers again.
    back = press_button(client, path)
    assert back.status_code == 200 and "You will receive the organisers' updates again" in back.text
    assert may_contact(engine, reader.id)
    # The signature itself is untouched: still confirmed, still counted.
    with open_session(engine) as session:
        assert session.get_one(Signature, reader.id).state is SignatureState.CONFIRMED


def test_another_sites_page_cannot_unsubscribe_a_signer(
    client: TestClient, engine: Engine, letter_slug: str, reader: Signature
) -> None:
    """The page carries no form token: the browser's Fetch Metadata and Origin decide."""
    path = link(letter_slug, reader)
    assert "csrf" not in client.get(path).text
    for headers in (
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://elsewhere.example"},
        {"sec-fetch-site": "same-site", "origin": "https://sub.testserver"},
    ):
        refused = client.post(path, data={"contact": "off"}, headers=headers)
        assert refused.status_code == 403, headers
    assert may_contact(engine, reader.id)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_mail_providers_one_click_post_unsubscribes(
    app_and_engine: tuple[object, Engine],
    engine: Engine,
    letter_slug: str,
    reader: Signature,
    encoding: str,
) -> None:
    """From the provider's servers: no cookie, no form token, no Origin; the body only."""
    path = link(letter_slug, reader)
    with TestClient(app_and_engine[0], base_url="http://testserver") as provider:  # type: ignore[arg-type]
        if encoding == "urlencoded":
            response = provider.post(path, data={"List-Unsubscribe": "One-Click"})
        else:
            response = provider.post(path, files={"List-Unsubscribe": (None, "One-Click")})
        assert response.status_code == 200
        assert not may_contact(engine, reader.id)
        # A second one-click, and one that would ask to resubscribe, change nothing.
        response = provider.post(path, data={"List-Unsubscribe": "One-Click", "contact": "on"})
        assert response.status_code == 200
    assert not may_contact(engine, reader.id)


def test_tampered_misplaced_or_foreign_tokens_are_refused(
    client: TestClient, engine: Engine, letter_slug: str, reader: Signature
) -> None:
    path = link(letter_slug, reader)
    head, _, token = path.rpartition("/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (
        f"{head}/{tampered}",
        f"{head}/not-a-token",
        link(letter_slug, reader, Purpose.WITHDRAW),  # a genuine token made for another purpose
        link(letter_slug, reader, Purpose.CONFIRM),
    ):
        page = client.get(bad)
        assert page.status_code == 400, bad
        assert "This link is not valid" in page.text
        one_click = client.post(bad, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400
    add_letter(engine, "another-letter")
    elsewhere = f"/letters/another-letter/unsubscribe/{token}"
    assert client.get(elsewhere).status_code == 400
    assert client.post(elsewhere, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert may_contact(engine, reader.id)


def test_a_withdrawn_signer_is_told_nothing_more_will_come(
    client: TestClient, engine: Engine, letter_slug: str, reader: Signature
) -> None:
    press_button(client, "/withdraw/" + TOKENS.make(Purpose.WITHDRAW, reader.public_id))
    path = link(letter_slug, reader)
    page = client.get(path)
    assert page.status_code == 200
    assert "You will receive no more emails" in page.text
    assert "reader@example.org" not in page.text
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    resubscribe = client.post(path, data={"contact": "on"}, headers=SAME_ORIGIN)
    assert resubscribe.status_code == 200
    assert not may_contact(engine, reader.id)  # a withdrawn signature stays erased


def test_a_signature_that_is_gone_gets_a_clear_page(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    pending = signer(engine, letter_slug, "pending@example.org", state=SignatureState.PENDING)
    path = link(letter_slug, pending)
    press_button(client, "/withdraw/" + TOKENS.make(Purpose.WITHDRAW, pending.public_id))
    page = client.get(path)
    assert page.status_code == 410
    assert "This link is no longer valid" in page.text
