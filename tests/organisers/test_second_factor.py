"""A second factor: an authenticator app's code after the emailed link, set up by the organiser,
required of everyone by an admin, and proof against guessing and replay."""

from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.organisers import totp
from tests.helpers import csrf_from, new_mail
from tests.organisers.helpers import add_organiser, ask_for_link, link_in, sign_in
from tests.smtp import SMTPServer

ORGANISER = "careful@example.org"
SECRET = re.compile(r'<p class="share-url"><code>([A-Z2-7]+)</code>')
SEALED = re.compile(r'name="sealed" value="([^"]+)"')


def test_codes_match_rfc_6238() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    # The standard's SHA-1 vectors, cut to six digits as apps show them.
    assert totp.code_at(secret, 59 // 30) == "287082"
    assert totp.code_at(secret, 1111111109 // 30) == "081804"
    assert totp.code_at(secret, 2000000000 // 30) == "279037"
    now = 1111111109.0
    assert totp.matching_step(secret, "081804", now=now) == 1111111109 // 30
    assert totp.matching_step(secret, "081 804", now=now + 30) is not None  # one step late
    assert totp.matching_step(secret, "081804", now=now + 90) is None
    assert totp.matching_step(secret, "081804", now=now, after=1111111109 // 30) is None
    assert totp.matching_step(secret, "abcdef", now=now) is None


def enrol(client: TestClient) -> str:
    page = client.get("/organise/second-factor")
    assert page.status_code == 200
    secret = SECRET.search(page.text)
    sealed = SEALED.search(page.text)
    assert secret and sealed
    code = totp.code_at(secret.group(1), totp.current_step())
    done = client.post(
        "/organise/second-factor",
        data={"sealed": sealed.group(1), "code": code, "csrf_token": csrf_from(page.text)},
    )
    assert done.status_code == 200, done.text
    return secret.group(1)


def link_then_code_page(client: TestClient, worker: JobWorker, smtp: SMTPServer) -> str:
    ask_for_link(client, ORGANISER)
    [mail] = new_mail(worker, smtp)
    path = link_in(mail)
    page = client.get(path)
    pressed = client.post(path, data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert pressed.headers["location"] == "/organise/sign-in/code"
    return csrf_from(client.get("/organise/sign-in/code").text)


def send_code(client: TestClient, token: str, code: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/organise/sign-in/code", data={"code": code, "csrf_token": token}, follow_redirects=False
    )


def sign_out(client: TestClient) -> None:
    token = csrf_from(client.get("/organise/second-factor").text)
    client.post("/organise/sign-out", data={"csrf_token": token})


def test_with_a_second_factor_the_link_alone_is_not_enough(
    client: TestClient,
    app_and_engine: tuple[object, Engine],
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    secret = enrol(client)
    sign_out(client)

    token = link_then_code_page(client, worker, smtp)
    assert client.get("/organise", follow_redirects=False).status_code == 303  # not signed in
    wrong = send_code(
        client,
        token,
        "000000" if totp.code_at(secret, totp.current_step()) != "000000" else "111111",
    )
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.text
    # Enrolling used this step's code: the next step's (one step of drift is allowed) is new.
    used = totp.code_at(secret, totp.current_step() + 1)
    right = send_code(client, token, used)
    assert (right.status_code, right.headers["location"]) == (303, "/organise")
    # Found in an attack: the half-finished sign-in's cookie served again with a later code.
    pending = client.cookies.get("us_organiser_code")
    with TestClient(app_and_engine[0], base_url="http://testserver") as thief:  # type: ignore[arg-type]
        thief.cookies.set("us_organiser_code", pending or "", path="/organise/sign-in")
        thief_token = csrf_from(thief.get("/organise/sign-in/code").text)
        again = send_code(thief, thief_token, totp.code_at(secret, totp.current_step() + 2))
        assert again.headers["location"] == "/organise/sign-in"
    assert client.get("/organise").status_code == 200
    assert "organiser.wrong_code" in audit_actions(engine)

    # The same code cannot sign in a second time.
    sign_out(client)
    token = link_then_code_page(client, worker, smtp)
    reused = send_code(client, token, used)
    assert reused.status_code == 400


def test_five_wrong_codes_void_the_sign_in(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    secret = enrol(client)
    sign_out(client)
    token = link_then_code_page(client, worker, smtp)
    right = totp.code_at(secret, totp.current_step() + 1)
    wrongs = [
        f"{n:06d}"
        for n in range(10)
        if f"{n:06d}" not in {totp.code_at(secret, totp.current_step() + d) for d in (-1, 0, 1)}
    ]
    for code in wrongs[:5]:
        assert send_code(client, token, code).status_code == 400
    late = send_code(client, token, right)
    assert (late.status_code, late.headers["location"]) == (303, "/organise/sign-in")
    assert client.get("/organise", follow_redirects=False).status_code == 303


def test_an_admin_can_require_it_of_everyone(
    client: TestClient,
    app_and_engine: tuple[object, Engine],
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    add_organiser(engine, "admin@example.org", admin=True)
    add_organiser(engine, ORGANISER)
    sign_in(client, "admin@example.org", worker, smtp)
    page = client.get("/organise")
    client.post(
        "/organise/policy", data={"require_second_factor": "on", "csrf_token": csrf_from(page.text)}
    )
    assert client.get("/organise", follow_redirects=False).headers["location"] == (
        "/organise/second-factor"
    )
    with TestClient(app_and_engine[0], base_url="http://testserver") as other:  # type: ignore[arg-type]
        sign_in(other, ORGANISER, worker, smtp)
        assert other.get("/organise/letters/new", follow_redirects=False).headers["location"] == (
            "/organise/second-factor"
        )
        enrol(other)
        assert other.get("/organise").status_code == 200
        # Required: it cannot be turned off.
        page = other.get("/organise/second-factor")
        assert "Turn off" not in page.text
    assert "policy.second_factor" in audit_actions(engine)


def audit_actions(engine: Engine) -> list[str]:
    from sqlalchemy import text

    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT action FROM audit_entries"))]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_secret_is_stored_encrypted(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer
) -> None:
    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    secret = enrol(client)
    from sqlalchemy import text

    with engine.connect() as connection:
        [stored] = connection.execute(text("SELECT totp_secret_encrypted FROM organisers")).one()
    assert secret not in stored
    assert stored.startswith("t1:")


def test_a_second_factor_cannot_be_replaced_or_planted(
    client: TestClient,
    app_and_engine: tuple[object, Engine],
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    """Found in an attack: a session alone could swap the authenticator, and a sealed secret
    made for one account was accepted by another."""
    add_organiser(engine, ORGANISER)
    add_organiser(engine, "thief@example.org")
    with TestClient(app_and_engine[0], base_url="http://testserver") as thief:  # type: ignore[arg-type]
        sign_in(thief, "thief@example.org", worker, smtp)
        page = thief.get("/organise/second-factor")
        stolen_secret = SECRET.search(page.text)
        stolen_sealed = SEALED.search(page.text)
        assert stolen_secret and stolen_sealed
    sign_in(client, ORGANISER, worker, smtp)
    page = client.get("/organise/second-factor")
    planted = client.post(
        "/organise/second-factor",
        data={
            "sealed": stolen_sealed.group(1),
            "code": totp.code_at(stolen_secret.group(1), totp.current_step()),
            "csrf_token": csrf_from(page.text),
        },
    )
    assert planted.status_code == 400
    secret = enrol(client)
    replacement = client.post(
        "/organise/second-factor",
        data={
            "sealed": SEALED.search(page.text).group(1),  # type: ignore[union-attr]
            "code": totp.code_at(SECRET.search(page.text).group(1), totp.current_step()),  # type: ignore[union-attr]
            "csrf_token": csrf_from(page.text),
        },
    )
    assert replacement.status_code == 400
    from sqlalchemy import text

    from tests.helpers import TEST_KEYRING

    with engine.connect() as connection:
        stored = (
            connection.execute(
                text(
                    "SELECT totp_secret_encrypted FROM organisers"
                    " WHERE totp_secret_encrypted IS NOT NULL"
                )
            )
            .scalars()
            .all()
        )
    assert [TEST_KEYRING.decrypt_secret(value) for value in stored] == [secret]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_parallel_wrong_codes_each_count(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, live_server: str
) -> None:
    """Found in an attack: failures were read and written back, so 40 parallel guesses were
    mostly checked. Each takes an attempt in the database first: five are checked, no more."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx2 as httpx

    add_organiser(engine, ORGANISER)
    sign_in(client, ORGANISER, worker, smtp)
    secret = enrol(client)
    sign_out(client)
    token = link_then_code_page(client, worker, smtp)
    cookies = {
        "us_csrf": client.cookies.get("us_csrf") or "",
        "us_organiser_code": client.cookies.get("us_organiser_code") or "",
    }
    near = {totp.code_at(secret, totp.current_step() + d) for d in (-1, 0, 1, 2)}
    wrongs = [f"{n:06d}" for n in range(40) if f"{n:06d}" not in near][:30]
    barrier = threading.Barrier(len(wrongs))

    def guess(code: str) -> int:
        with httpx.Client(base_url=live_server, cookies=cookies, timeout=60) as browser:
            barrier.wait(timeout=30)
            response = browser.post(
                "/organise/sign-in/code",
                data={"code": code, "csrf_token": token},
                follow_redirects=False,
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=len(wrongs)) as pool:
        statuses = list(pool.map(guess, wrongs))
    # Exactly five codes were checked; the rest found the sign-in used up.
    assert (statuses.count(400), statuses.count(303)) == (5, len(wrongs) - 5)
    from sqlalchemy import text

    with engine.connect() as connection:
        wrong_codes = connection.execute(
            text("SELECT count(*) FROM audit_entries WHERE action = 'organiser.wrong_code'")
        ).scalar_one()
    assert wrong_codes == statuses.count(400)
    # Whatever the interleaving, the sign-in is void now: even the right code is refused.
    late = send_code(client, token, totp.code_at(secret, totp.current_step() + 1))
    assert late.headers["location"] == "/organise/sign-in"
