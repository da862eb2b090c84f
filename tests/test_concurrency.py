"""A rush of identical sign requests on a real server: the database decides, once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
from sqlalchemy import Engine
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session
from app.mail.models import OutboxMessage
from app.mail.worker import MailWorker
from app.signatures.models import SignatureState
from app.signatures.service import MAIL_ALREADY_SIGNED, MAIL_CONFIRM
from tests.helpers import csrf_from, signatures
from tests.smtp import SMTPServer

REQUESTS = 20
ADDRESS = "rush@example.org"


def outbox_kinds(engine: Engine) -> list[str]:
    with open_session(engine) as session:
        return list(session.exec(select(OutboxMessage.kind).order_by(col(OutboxMessage.id))).all())


def test_simultaneous_identical_signatures_count_once(
    live_server: str,
    engine: Engine,
    settings: Settings,
    worker: MailWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign_path = f"/letters/{letter_slug}/sign"
    with httpx.Client(base_url=live_server, timeout=10) as first:
        page = first.get(f"/letters/{letter_slug}")
        assert page.status_code == 200
        cookie = first.cookies["us_csrf"]
        token = csrf_from(page.text)
    form = {"name": "Rush Signer", "email": ADDRESS, "visibility": "public", "csrf_token": token}
    barrier = threading.Barrier(REQUESTS)

    def post_once(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=live_server, cookies={"us_csrf": cookie}, timeout=60) as c:
            barrier.wait(timeout=30)
            response = c.post(sign_path, data=form, follow_redirects=False)
            return response.status_code, response.headers.get("location", "")

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        results = list(pool.map(post_once, range(REQUESTS)))

    assert results == [(303, f"/letters/{letter_slug}/check-email")] * REQUESTS
    [signature] = signatures(engine)
    assert signature.email == ADDRESS
    assert signature.state is SignatureState.PENDING
    limit = settings.duplicate_notice_limit
    assert limit < REQUESTS - 1  # so the limit is what is being tested
    assert signature.duplicate_notices == limit

    kinds = outbox_kinds(engine)
    assert kinds.count(MAIL_CONFIRM) == 1
    assert kinds.count(MAIL_ALREADY_SIGNED) == limit
    assert len(kinds) == 1 + limit

    assert worker.deliver_due() == 1 + limit
    assert [mail["To"] for mail in smtp.messages] == [ADDRESS] * (1 + limit)
    subjects = [mail["Subject"] for mail in smtp.messages]
    assert subjects.count("Your confirmation link from Undersigned") == 1
