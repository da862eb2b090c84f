"""Mailed links: expiry, tampering, purpose, key rotation; GET never acts; a POST from another
site is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.jobs.worker import JobWorker
from app.kit.tokens import Purpose, TokenError, Tokens
from app.mail.sender import SMTPSender
from app.main import create_app
from app.signatures.models import SignatureState
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import (
    SAME_ORIGIN,
    count,
    links,
    new_mail,
    press_button,
    queued_jobs,
    sign,
    signatures,
)
from tests.html import form_values, parse
from tests.smtp import SMTPServer

DAY = 86_400
TEST_KEY = TEST_SECRET_KEY
NEW_KEY = "brand-new-key-" + "n" * 32


def made_ago(purpose: Purpose, public_id: str, seconds: float, keys: list[str]) -> str:
    """A genuine token, as if it had been mailed ``seconds`` ago."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time() - seconds))
        return Tokens(keys).make(purpose, public_id)


def signed_and_mailed(
    client: TestClient, slug: str, worker: JobWorker, smtp: SMTPServer
) -> dict[str, str]:
    assert sign(client, slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    return links(mail)


def snapshot(engine: Engine) -> list[tuple[object, ...]]:
    """Everything a request could change: each signature's state and the job queue."""
    rows: list[tuple[object, ...]] = [
        (
            s.id,
            s.state,
            s.public_id,
            s.name,
            s.mails_in_window,
            s.confirmed_at,
            s.withdrawn_at,
        )
        for s in signatures(engine)
    ]
    rows += [(m.id, m.kind, m.state, m.attempts) for m in queued_jobs(engine)]
    return rows


def assert_refused(response, heading: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400
    assert heading in response.text
    assert "text/html" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("purpose", "route", "max_age_days"),
    [(Purpose.CONFIRM, "confirm", 7), (Purpose.WITHDRAW, "withdraw", 365)],
)
def test_expired_links_are_refused(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    purpose: Purpose,
    route: str,
    max_age_days: int,
) -> None:
    signed_and_mailed(client, letter_slug, worker, smtp)
    [signature] = signatures(engine)
    before = snapshot(engine)

    old = made_ago(purpose, signature.public_id, (max_age_days + 1) * DAY, [TEST_KEY])
    for response in (
        client.get(f"/{route}/{old}"),
        client.post(f"/{route}/{old}", data={}, headers=SAME_ORIGIN),
        client.post(f"/{route}/{old}", data={}),
    ):
        assert_refused(response, "This link has expired")
    assert snapshot(engine) == before

    # Just inside its lifetime, the same kind of link still works.
    recent = made_ago(purpose, signature.public_id, (max_age_days - 1) * DAY, [TEST_KEY])
    assert press_button(client, f"/{route}/{recent}").status_code == 200
    if route == "confirm":
        assert signatures(engine)[0].state is SignatureState.CONFIRMED
    else:  # withdrawn before it was ever confirmed: nothing of it is kept
        assert signatures(engine) == []


def tampered_versions(token: str) -> list[str]:
    payload, timestamp, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return [
        f"{payload}.{timestamp}.{flipped}{signature[1:]}",  # signature changed
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{timestamp}.{signature}",  # payload
        f"{payload}.{timestamp}.{signature[:-4]}",  # cut short, as a mail client might
        f"{payload}.{timestamp}",
        "not-a-token",
        Tokens(["someone-elses-key"]).make(Purpose.CONFIRM, "x" * 22),
    ]


def test_tampered_links_are_refused(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_mailed(client, letter_slug, worker, smtp)
    before = snapshot(engine)
    for route in ("confirm", "withdraw"):
        token = found[route].split("/")[-1]
        for bad in tampered_versions(token):
            assert_refused(client.get(f"/{route}/{bad}"), "This link is not valid")
            posted = client.post(f"/{route}/{bad}", data={}, headers=SAME_ORIGIN)
            assert_refused(posted, "This link is not valid")
    assert snapshot(engine) == before
    assert signatures(engine)[0].state is SignatureState.PENDING


def test_a_genuine_link_to_no_signature_is_gone(client: TestClient, letter_slug: str) -> None:
    token = Tokens([TEST_KEY]).make(Purpose.CONFIRM, "no-such-signature")
    response = client.get(f"/confirm/{token}")
    assert response.status_code == 410
    assert "This link is no longer valid" in response.text


def test_links_only_work_for_their_own_purpose(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_mailed(client, letter_slug, worker, smtp)
    confirm_token = found["confirm"].split("/")[-1]
    withdraw_token = found["withdraw"].split("/")[-1]
    before = snapshot(engine)

    # A withdraw link used to confirm must not confirm a pending signature...
    assert_refused(client.get(f"/confirm/{withdraw_token}"), "This link is not valid")
    posted = client.post(f"/confirm/{withdraw_token}", data={}, headers=SAME_ORIGIN)
    assert_refused(posted, "This link is not valid")
    assert snapshot(engine) == before

    # ...and a confirm link used to withdraw must not withdraw a confirmed one.
    assert press_button(client, found["confirm"]).status_code == 200
    before = snapshot(engine)
    assert_refused(client.get(f"/withdraw/{confirm_token}"), "This link is not valid")
    posted = client.post(f"/withdraw/{confirm_token}", data={}, headers=SAME_ORIGIN)
    assert_refused(posted, "This link is not valid")
    assert snapshot(engine) == before
    assert signatures(engine)[0].state is SignatureState.CONFIRMED
    assert count(client, letter_slug) == 1


@contextmanager
def app_with_keys(settings: Settings, keys: list[str]) -> Iterator[tuple[TestClient, Settings]]:
    """A second instance of the app on the same database, configured with other keys."""
    other = settings.model_copy(update={"secret_keys": keys})
    app = create_app(other)
    try:
        with TestClient(app, base_url="http://testserver") as client:
            yield client, other
    finally:
        app.state.engine.dispose()


def token_of(mail: EmailMessage, route: str) -> str:
    return links(mail)[route].split("/")[-1]


def test_key_rotation_keeps_old_links_working(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    settings: Settings,
    letter_slug: str,
) -> None:
    found = signed_and_mailed(client, letter_slug, worker, smtp)

    with app_with_keys(settings, ["retired-only-" + "r" * 32]) as (stranger, _):
        assert_refused(stranger.get(found["confirm"]), "This link is not valid")

    with app_with_keys(settings, [NEW_KEY, TEST_KEY]) as (rotated, rotated_settings):
        # Mailed before the rotation, signed with the old key: still good.
        confirmed = press_button(rotated, found["confirm"])
        assert confirmed.status_code == 200
        assert "Thank you" in confirmed.text
        assert signatures(engine)[0].state is SignatureState.CONFIRMED

        # New mail is signed with the first key listed.
        sign(rotated, letter_slug, email="anna+again@example.org")
        new_worker = JobWorker(
            engine=engine, settings=rotated_settings, sender=SMTPSender(rotated_settings)
        )
        [reminder] = new_mail(new_worker, smtp)
        token = token_of(reminder, "withdraw")
        assert Tokens([NEW_KEY]).read(Purpose.WITHDRAW, token, max_age_seconds=60)
        with pytest.raises(TokenError):
            Tokens([TEST_KEY]).read(Purpose.WITHDRAW, token, max_age_seconds=60)
        assert rotated.get(f"/withdraw/{token}").status_code == 200
    # The app that only knows the old key cannot read the new links.
    assert_refused(client.get(f"/withdraw/{token}"), "This link is not valid")


def test_get_and_head_never_change_anything(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    found = signed_and_mailed(client, letter_slug, worker, smtp)
    before = snapshot(engine)
    paths = [
        "/",
        f"/letters/{letter_slug}",
        f"/letters/{letter_slug}/signatures",
        f"/letters/{letter_slug}/count.json",
        f"/letters/{letter_slug}/check-email",
        f"/letters/{letter_slug}/thank-you",
        f"/letters/{letter_slug}/withdrawn",
        found["confirm"],
        found["withdraw"],
    ]
    for _ in range(2):  # as a mail scanner and then a person might
        for path in paths:
            assert client.get(path).status_code == 200, path
            assert client.head(path).status_code == 200, path
    # The sign address does nothing but refuse when fetched.
    assert client.get(f"/letters/{letter_slug}/sign").status_code == 405
    assert snapshot(engine) == before
    assert signatures(engine)[0].state is SignatureState.PENDING
    assert count(client, letter_slug) == 0


def test_sign_needs_no_form_token_and_sets_no_cookie(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    page = client.get(f"/letters/{letter_slug}")
    assert "set-cookie" not in page.headers
    assert "csrf" not in page.text
    client.cookies.clear()
    data = {"name": "Anna Example", "email": "anna@example.org", "city": "Riga"}
    response = client.post(f"/letters/{letter_slug}/sign", data=data, headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert "Check your email" in response.text
    assert "set-cookie" not in response.headers
    assert len(signatures(engine)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "https://undersigned.test"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
    ],
)
@pytest.mark.parametrize("route", ["confirm", "withdraw"])
def test_buttons_pressed_from_another_site_change_nothing(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    route: str,
    headers: dict[str, str],
) -> None:
    found = signed_and_mailed(client, letter_slug, worker, smtp)
    if route == "withdraw":
        assert press_button(client, found["confirm"]).status_code == 200
    before = snapshot(engine)
    page = client.get(found[route])
    [form] = [f for f in parse(page.text).find_all("form") if f.attrs.get("method") == "post"]
    response = client.post(found[route], data=form_values(form), headers=headers)
    assert response.status_code == 403
    assert "sent from another website" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert snapshot(engine) == before
