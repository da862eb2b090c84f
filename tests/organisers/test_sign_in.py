"""Signing in to the workspace: by emailed one-time link, never revealing who has an account."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs.worker import JobWorker
from app.organisers.models import SignInLink
from tests.helpers import csrf_from, new_mail
from tests.organisers.helpers import add_organiser, ask_for_link, link_in, sign_in
from tests.smtp import SMTPServer

ORGANISER = "organiser@example.org"


def test_an_organiser_signs_in_with_an_emailed_link(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, ORGANISER)
    assert client.get("/organise", follow_redirects=False).headers["location"] == (
        "/organise/sign-in"
    )
    sign_in(client, "Organiser@Example.org", worker, smtp)
    workspace = client.get("/organise")
    assert workspace.status_code == 200
    assert "Your letters" in workspace.text
    assert workspace.headers["cache-control"] == "no-store"
    [cookie] = [c for c in client.cookies.jar if c.name == "us_organiser"]
    assert cookie.path == "/organise"
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.expires is not None


def test_nobody_learns_who_has_an_account(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, ORGANISER)
    known = ask_for_link(client, ORGANISER)
    unknown = ask_for_link(client, "stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert [mail["To"] for mail in new_mail(worker, smtp)] == [ORGANISER]


def test_a_link_works_once(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, ORGANISER)
    ask_for_link(client, ORGANISER)
    [mail] = new_mail(worker, smtp)
    path = link_in(mail)
    page = client.get(path)
    assert client.get(path).status_code == 200  # opening it twice spends nothing
    assert client.post(path, data={"csrf_token": csrf_from(page.text)}).status_code == 200
    again = client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 410
    assert "This sign-in link is no longer valid" in again.text
    assert client.get(path).status_code == 410


def test_an_old_link_has_expired(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, settings: Settings
) -> None:
    add_organiser(engine, ORGANISER)
    ask_for_link(client, ORGANISER)
    with pytest.MonkeyPatch.context() as patch:
        minutes = settings.sign_in_link_minutes + 1
        patch.setattr(
            TimestampSigner, "get_timestamp", lambda self: int(time.time() - minutes * 60)
        )
        [mail] = new_mail(worker, smtp)
    response = client.get(link_in(mail))
    assert response.status_code == 400
    assert "This link has expired" in response.text


def test_sign_in_links_are_limited_per_hour(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, settings: Settings
) -> None:
    add_organiser(engine, ORGANISER)
    for _ in range(settings.sign_in_links_per_hour + 3):
        assert ask_for_link(client, ORGANISER).status_code == 200
    assert len(new_mail(worker, smtp)) == settings.sign_in_links_per_hour


def test_asking_in_an_organisers_name_cannot_lock_them_out(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, settings: Settings
) -> None:
    """Past the limit, the newest mail still holds a working link, or asking sends one."""
    add_organiser(engine, ORGANISER)
    for _ in range(settings.sign_in_links_per_hour + 3):  # someone else, in their name
        ask_for_link(client, ORGANISER)
    flood = new_mail(worker, smtp)
    assert len(flood) == settings.sign_in_links_per_hour
    ask_for_link(client, ORGANISER)  # the organiser: no new mail, and none needed...
    assert new_mail(worker, smtp) == []
    newest = client.get(link_in(flood[-1]))  # ...for the newest mail's link works
    assert newest.status_code == 200 and "Sign in" in newest.text

    # Once every link sent has outlived its lifetime, asking sends a fresh one, and it works.
    with open_session(engine, write=True) as session:
        old = utcnow() - timedelta(minutes=settings.sign_in_link_minutes + 1)
        session.execute(update(SignInLink).values(created_at=old))
        session.commit()
    ask_for_link(client, ORGANISER)
    [fresh] = new_mail(worker, smtp)
    page = client.get(link_in(fresh))
    signed_in = client.post(
        link_in(fresh), data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    assert client.get("/organise", follow_redirects=False).status_code == 200


def test_signing_out_ends_every_session(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    app_and_engine: tuple[object, Engine],
) -> None:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    stolen = client.cookies.get("us_organiser")
    page = client.get("/organise")
    out = client.post(
        "/organise/sign-out", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    # Even a copy of the old cookie no longer opens the workspace.
    other = TestClient(app_and_engine[0], base_url="http://testserver")  # type: ignore[arg-type]
    other.cookies.set("us_organiser", stolen or "", path="/organise")
    assert other.get("/organise", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("cookie", ["", "forged", "eyJ4IjoxfQ.abc.def", "a" * 4000])
def test_a_forged_session_opens_nothing(client: TestClient, cookie: str) -> None:
    client.cookies.set("us_organiser", cookie, path="/organise")
    response = client.get("/organise", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/organise/sign-in"
