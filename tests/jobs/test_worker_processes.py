"""``undersigned worker --processes 2``: two real worker processes under a supervisor share one
queue of mail jobs, on SQLite and PostgreSQL, without sending any mail twice; a killed worker
is replaced; SIGTERM stops everything cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import app
from app.config import Settings
from app.jobs.models import JobState
from app.signatures.service import MAIL_SIGNATURE
from tests.helpers import mail_jobs
from tests.jobs.queue import queue_mails, recipients
from tests.pg import free_port
from tests.smtp import CatchingHandler, SMTPServer

# The checkout whose `app` these tests import: the workers must run the same code.
CHECKOUT = Path(app.__file__).resolve().parent.parent
STARTED = re.compile(r"worker process (\d) started \(pid (\d+)\)")
DONE = re.compile(r"\[(\d+)\] app\.jobs\.worker: job (\d+) \(" + re.escape(MAIL_SIGNATURE) + r"\)")
JOBS = 24


class SlowHandler(CatchingHandler):
    """Takes a moment over each message, so that one worker alone cannot drain the queue
    before the other has claimed anything."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.handler = SlowHandler()
    server.controller.handler = server.handler
    server.start()
    yield server
    server.stop()


def _environment(settings: Settings, smtp_port: int, data_dir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    return environment | {
        "UNDERSIGNED_DATABASE_URL": settings.database_url,
        "UNDERSIGNED_DATA_DIR": str(data_dir),
        "UNDERSIGNED_BASE_URL": settings.base_url,
        "UNDERSIGNED_SECRET_KEYS": ",".join(settings.secret_keys),
        "UNDERSIGNED_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "UNDERSIGNED_HASH_KEY": settings.hash_key,
        "UNDERSIGNED_SMTP_HOST": "127.0.0.1",
        "UNDERSIGNED_SMTP_PORT": str(smtp_port),
        "UNDERSIGNED_JOB_POLL_SECONDS": "0.2",
        "UNDERSIGNED_JOB_BATCH_SIZE": "2",
    }


def _wait_for(condition: Callable[[], bool], *, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_two_worker_processes_share_the_queue_and_stop_cleanly(
    engine: Engine, settings: Settings, slow_smtp: SMTPServer, letter_slug: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "workers.log"
    environment = _environment(settings, slow_smtp.port, tmp_path / "worker-data")
    with log_path.open("w") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--processes", "2"],
            cwd=CHECKOUT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        output = log_path.read_text
        assert _wait_for(lambda: output().count("job worker started") == 2), output()
        addresses = [f"signer-{n}@example.org" for n in range(JOBS)]
        queue_mails(engine, letter_slug, addresses)
        assert _wait_for(lambda: len(slow_smtp.messages) >= JOBS), output()
        # Each job is marked done just after its mail is accepted: wait for that too, so the
        # worker killed below is not killed in that moment (its job would then wait for its
        # lease to run out, and be sent again: at least once, by design).
        done = [JobState.DONE] * JOBS
        assert _wait_for(lambda: [job.state for job in mail_jobs(engine)] == done), output()

        first_pids = {int(pid) for _, pid in STARTED.findall(output())}
        victim = first_pids.pop()
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: len(STARTED.findall(output())) == 3), output()
        assert _wait_for(lambda: output().count("job worker started") == 3), output()
    finally:
        supervisor.send_signal(signal.SIGTERM)
        returncode = supervisor.wait(timeout=30)
    text = output()

    # Every mail once: as many distinct Message-IDs as jobs, each address reached once.
    message_ids = [message["Message-ID"] for message in slow_smtp.messages]
    assert len(message_ids) == JOBS
    assert len(set(message_ids)) == JOBS
    assert sorted(recipients(slow_smtp)) == sorted(addresses)
    assert [job.state for job in mail_jobs(engine)] == [JobState.DONE] * JOBS
    # ... done by both processes, no job by two.
    runs = DONE.findall(text)
    assert len(runs) == JOBS, text
    assert max(Counter(job for _, job in runs).values()) == 1
    assert len({pid for pid, _ in runs}) == 2, text
    # The killed worker was replaced, with a warning; SIGTERM stopped all three cleanly.
    assert f"(pid {victim}) exited with signal SIGKILL" in text
    assert returncode == 0, text
    assert text.count("job worker stopped") == 2
    assert "all worker processes stopped" in text
    assert "@example.org" not in text


def test_processes_must_be_positive() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--processes", "0"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr
