"""The ``undersigned`` command: migrate, demo, the secret key file, and a real ``serve``."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from app.cli import main
from app.config import Settings
from app.db import make_engine, open_session
from app.kit.tokens import Purpose, Tokens
from app.letters.demo import DEMO_SLUG
from app.letters.models import Letter
from tests.helpers import csrf_from
from tests.pg import free_port

SCRIPT = Path(sys.executable).parent / "undersigned"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No UNDERSIGNED_ setting leaks in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("UNDERSIGNED_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_migrate_then_demo_twice_makes_one_letter(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    clean_env.setenv("UNDERSIGNED_DATABASE_URL", url)
    clean_env.setenv("UNDERSIGNED_DATA_DIR", str(tmp_path / "data"))

    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    assert "Demo letter created" in capsys.readouterr().out
    assert main(["demo"]) == 0
    assert "Demo letter already there" in capsys.readouterr().out
    assert main(["migrate"]) == 0  # migrating an up-to-date database changes nothing

    engine = make_engine(url)
    with open_session(engine) as session:
        assert session.exec(select(func.count()).select_from(Letter)).one() == 1
        assert session.exec(select(Letter.slug)).one() == DEMO_SLUG
    engine.dispose()
    assert not (tmp_path / "data" / "undersigned.db").exists()  # the URL was obeyed


def test_secret_key_is_created_private_and_reused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    clean_env.setenv("UNDERSIGNED_DATA_DIR", str(data_dir))
    key_file = data_dir / "secret_key"
    assert not key_file.exists()

    first = Settings().resolved_secret_keys()
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [key] = first
    assert len(key) >= 32

    again = Settings().resolved_secret_keys()
    assert again == first
    # A link mailed before a restart still opens after it.
    token = Tokens(first).make(Purpose.CONFIRM, "opaque")
    assert Tokens(again).read(Purpose.CONFIRM, token, max_age_seconds=60) == "opaque"
    assert Settings().resolved_database_url() == f"sqlite:///{(data_dir / 'undersigned.db')}"


def _env(data_dir: Path) -> dict[str, str]:
    # No BASE_URL on purpose: serve's links must then point at the port it listens on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    env.update(UNDERSIGNED_DATA_DIR=str(data_dir), UNDERSIGNED_MAIL_POLL_SECONDS="0.2")
    env.pop("PYTHONUNBUFFERED", None)  # the console sender must flush by itself
    return env


class Output:
    """Collects a process's stdout in a thread, so reading never blocks the test."""

    def __init__(self, stream: Iterator[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def wait_for(check, *, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_runs_the_app_and_prints_mail_to_the_console(tmp_path: Path) -> None:
    assert SCRIPT.exists(), SCRIPT
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _env(tmp_path / "data")
    for step in ("migrate", "demo"):
        done = subprocess.run(
            [str(SCRIPT), step], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr

    with (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        output = Output(process.stdout)
        try:
            with httpx.Client(base_url=base_url, timeout=5) as client:

                def home_answers() -> bool:
                    assert process.poll() is None, (tmp_path / "stderr.log").read_text()
                    try:
                        return client.get("/").status_code == 200
                    except httpx.TransportError:
                        return False

                wait_for(home_answers, seconds=30, what="the server to answer")
                page = client.get(f"/letters/{DEMO_SLUG}")
                assert page.status_code == 200
                form = {
                    "name": "Console Signer",
                    "email": "console.signer@example.org",
                    "visibility": "public",
                    "csrf_token": csrf_from(page.text),
                }
                posted = client.post(f"/letters/{DEMO_SLUG}/sign", data=form)
                assert posted.status_code == 303
                assert posted.headers["location"] == f"/letters/{DEMO_SLUG}/check-email"

                link = re.compile(re.escape(base_url) + r"(/confirm/[A-Za-z0-9._-]+)")
                found = wait_for(
                    lambda: link.search(output.text), seconds=20, what="the mail on stdout"
                )
                assert "example.org" not in output.text
                assert "No UNDERSIGNED_SMTP_HOST set" in output.text
                confirm_page = client.get(found.group(1))
                assert confirm_page.status_code == 200
        finally:
            process.terminate()
            try:
                returncode = process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
                raise
            output.thread.join(timeout=5)
            process.stdout.close()
    log = (tmp_path / "stderr.log").read_text()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log
    # The job worker lives in the app's lifespan, so it is stopped before the process exits.
    assert "job worker stopped" in log
    assert "example.org" not in log
