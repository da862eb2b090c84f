"""``/letters/{slug}/count.json``: its shape, who may read it, and what it counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import utcnow
from app.jobs.worker import JobWorker
from app.letters.models import LetterStatus
from app.signatures.models import SignatureState, Visibility
from tests.helpers import (
    add_letter,
    add_signature,
    address_of,
    catch_up_counts,
    links,
    new_mail,
    press_button,
    sign,
    signatures,
)
from tests.smtp import SMTPServer


def read(client: TestClient, slug: str) -> dict[str, object]:
    """count.json once the counts caught up (the recurring job ran, the cache re-read)."""
    catch_up_counts(client)
    response = client.get(f"/letters/{slug}/count.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    body: dict[str, object] = response.json()
    return body


def test_shape_and_headers(client: TestClient, letter_slug: str) -> None:
    response = client.get(f"/letters/{letter_slug}/count.json")
    assert response.status_code == 200
    assert response.json() == {
        "slug": "all-for-all",
        "signatures": 0,
        "goal": 10_000,
        "updated_at": None,
    }
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=5, stale-while-revalidate=50"
    head = client.head(f"/letters/{letter_slug}/count.json")
    assert head.status_code == 200
    assert head.headers["access-control-allow-origin"] == "*"
    assert head.content == b""


def test_a_letter_without_a_goal(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "no-goal")
    assert read(client, "no-goal")["goal"] is None


def test_only_confirmed_signatures_count(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug, email="one@example.org").status_code == 200
    assert sign(client, letter_slug, email="two@example.org").status_code == 200
    mails = {m["To"]: links(m) for m in new_mail(worker, smtp)}
    assert read(client, letter_slug)["signatures"] == 0  # pending: not yet

    before = utcnow()
    assert press_button(client, mails["one@example.org"]["confirm"]).status_code == 200
    body = read(client, letter_slug)
    assert body["signatures"] == 1
    assert isinstance(body["updated_at"], str)
    updated = datetime.fromisoformat(body["updated_at"])
    assert updated.utcoffset() == timedelta(0)
    [one] = [s for s in signatures(engine) if address_of(s) == "one@example.org"]
    assert one.confirmed_at is not None
    assert updated >= one.confirmed_at >= before  # when the count took it in

    # Every visibility counts, named or not.
    for n, visibility in enumerate(Visibility):
        add_signature(engine, letter_slug, name="X Y", email=f"v{n}@ex.org", visibility=visibility)
    assert read(client, letter_slug)["signatures"] == 4

    # A withdrawal moves the count down and the time forward.
    assert press_button(client, mails["one@example.org"]["withdraw"]).status_code == 200
    after = read(client, letter_slug)
    assert after["signatures"] == 3
    assert isinstance(after["updated_at"], str)
    assert datetime.fromisoformat(after["updated_at"]) > updated


def test_withdrawing_a_pending_signature_does_not_move_the_time(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    confirmed_at = utcnow() - timedelta(hours=2)
    add_signature(engine, letter_slug, name="Early", email="e@ex.org", confirmed_at=confirmed_at)
    counted = read(client, letter_slug)
    assert counted["signatures"] == 1
    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["withdraw"]).status_code == 200
    body = read(client, letter_slug)
    assert body == counted


def test_counts_are_per_letter(client: TestClient, engine: Engine, letter_slug: str) -> None:
    add_letter(engine, "other", goal=3)
    add_signature(engine, "other", name="A B", email="a@ex.org")
    add_signature(engine, "other", name="C D", email="c@ex.org", state=SignatureState.PENDING)
    add_signature(engine, "other", name="E F", email="e@ex.org", state=SignatureState.WITHDRAWN)
    assert read(client, "other")["signatures"] == 1
    assert read(client, letter_slug)["signatures"] == 0


def test_no_personal_data(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    fields = {"name": "Zurab Private", "email": "zurab.private@example.org"}
    signed = sign(client, letter_slug, city="Batumi", affiliation="Port Authority", **fields)
    assert signed.status_code == 200
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    response = client.get(f"/letters/{letter_slug}/count.json")
    assert set(response.json()) == {"slug", "signatures", "goal", "updated_at"}
    for private in ("Zurab", "zurab", "Batumi", "Port Authority", "@"):
        assert private not in response.text
    assert "set-cookie" not in response.headers


def test_drafts_and_unknown_letters(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "draft", status=LetterStatus.DRAFT)
    add_signature(engine, "draft", name="A B", email="a@ex.org")
    for slug in ("draft", "nope"):
        response = client.get(f"/letters/{slug}/count.json")
        assert response.status_code == 404
        assert response.json() == {"error": "Letter not found"}
        assert response.headers["access-control-allow-origin"] == "*"


def test_closed_letters_still_report_their_count(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "closed", status=LetterStatus.CLOSED, goal=100)
    add_signature(engine, "closed", name="A B", email="a@ex.org")
    assert read(client, "closed") | {"updated_at": None} == {
        "slug": "closed",
        "signatures": 1,
        "goal": 100,
        "updated_at": None,
    }
