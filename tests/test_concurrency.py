"""A rush of identical sign requests on a real server: the database decides, once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
from sqlalchemy import Engine
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session
from app.jobs.models import Job, JobState
from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState
from tests.helpers import SAME_ORIGIN, address_of, signatures
from tests.smtp import SMTPServer

REQUESTS = 20
ADDRESS = "rush@example.org"


def job_states(engine: Engine) -> list[JobState]:
    with open_session(engine) as session:
        return list(session.exec(select(Job.state).order_by(col(Job.id))).all())


def test_simultaneous_identical_signatures_count_once(
    live_server: str,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    sign_path = f"/letters/{letter_slug}/sign"
    with httpx.Client(base_url=live_server, timeout=10) as first:
        page = first.get(f"/letters/{letter_slug}")
        assert page.status_code == 200
    form = {"name": "Rush Signer", "email": ADDRESS, "visibility": "public"}
    barrier = threading.Barrier(REQUESTS)

    def post_once(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=live_server, headers=SAME_ORIGIN, timeout=60) as c:
            barrier.wait(timeout=30)
            response = c.post(sign_path, data=form, follow_redirects=False)
            return response.status_code, response.headers.get("location", "")

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        results = list(pool.map(post_once, range(REQUESTS)))

    assert results == [(303, f"/letters/{letter_slug}/check-email")] * REQUESTS
    [signature] = signatures(engine)
    assert address_of(signature) == ADDRESS
    assert signature.state is SignatureState.PENDING
    limit = settings.signer_mail_limit
    assert limit < REQUESTS - 1  # so the limit is what is being tested
    assert signature.mails_in_window == limit

    # Every request did the same work (one job row each); only `limit` of them may mail.
    states = job_states(engine)
    assert len(states) == REQUESTS
    assert states.count(JobState.PENDING) == limit
    assert states.count(JobState.DROPPED) == REQUESTS - limit

    assert worker.run_due() == limit
    assert [mail["To"] for mail in smtp.messages] == [ADDRESS] * limit
    subjects = {mail["Subject"] for mail in smtp.messages}
    assert subjects == {"Your confirmation link from Undersigned"}
