"""``undersigned worker`` as its own process: delivers queued mail over SMTP, stops on SIGTERM,
and refuses to start on a real database without its keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.jobs.models import JobState
from app.signatures.service import MAIL_SIGNATURE
from tests.helpers import links, queued_jobs, sign
from tests.smtp import SMTPServer

SCRIPT = Path(sys.executable).parent / "undersigned"


def test_worker_process_delivers_and_stops_cleanly(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    tmp_path: Path,
) -> None:
    assert sign(client, letter_slug, email="worker-test@example.org").status_code == 200
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    environment |= {
        "UNDERSIGNED_DATABASE_URL": settings.database_url,
        "UNDERSIGNED_DATA_DIR": str(tmp_path / "worker-data"),
        "UNDERSIGNED_BASE_URL": settings.base_url,
        "UNDERSIGNED_SECRET_KEYS": ",".join(settings.secret_keys),
        "UNDERSIGNED_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "UNDERSIGNED_HASH_KEY": settings.hash_key,
        "UNDERSIGNED_SMTP_HOST": "127.0.0.1",
        "UNDERSIGNED_SMTP_PORT": str(smtp.port),
        "UNDERSIGNED_JOB_POLL_SECONDS": "0.2",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "worker"], env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 20
            while not smtp.messages and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=15)
    output = log_path.read_text()

    [mail] = smtp.messages
    assert set(links(mail)) == {"confirm", "withdraw"}
    mail_jobs = [row for row in queued_jobs(engine) if row.kind == MAIL_SIGNATURE]
    assert [row.state for row in mail_jobs] == [JobState.DONE]
    assert returncode == 0, output
    assert "job worker stopped" in output
    assert "worker-test@example.org" not in output
