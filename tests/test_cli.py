"""The ``undersigned`` command: migrate, demo, the secret key file, and a real ``serve``."""

from __future__ import annotations

import argparse
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
from sqlalchemy import func, inspect, text
from sqlmodel import select

from app.cli import MIGRATION_LOCK_KEY, build_parser, main
from app.config import Settings
from app.db import make_engine, open_session
from app.kit.tokens import Purpose, Tokens
from app.letters.demo import DEMO_SLUG
from app.letters.models import Letter
from tests.conftest import skip_for_missing
from tests.pg import PostgresServer, free_port

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


def test_every_help_lists_every_option_with_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    subcommands = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert set(subcommands.choices) >= {"migrate", "demo", "serve", "worker"}
    for name, parser in subcommands.choices.items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        shown = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
        for action in parser._actions:
            if action.option_strings and action.default is not argparse.SUPPRESS:
                assert action.option_strings[-1] in shown, (name, action)
                assert f"(default: {action.default})" in shown, (name, action.option_strings)
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = capsys.readouterr().out
    assert "(default: 127.0.0.1)" in shown
    assert "(default: 8000)" in shown


def test_demo_prints_an_address_only_when_it_knows_it(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("UNDERSIGNED_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    # `serve --port 9000` would serve elsewhere than BASE_URL's default: no address is invented.
    printed = capsys.readouterr().out
    assert f"/letters/{DEMO_SLUG}" in printed
    assert "http" not in printed

    clean_env.setenv("UNDERSIGNED_BASE_URL", "https://letters.example.org/")
    assert main(["demo"]) == 0
    assert f"https://letters.example.org/letters/{DEMO_SLUG}" in capsys.readouterr().out


def test_migrations_started_together_take_turns_under_the_advisory_lock(
    postgres: PostgresServer | None, tmp_path: Path
) -> None:
    if postgres is None:
        skip_for_missing("PostgreSQL server (initdb, pg_ctl)")
    admin = make_engine(postgres.admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE migrate_race"))
    url = postgres.url("migrate_race")
    env = {**_env(tmp_path / "data"), "UNDERSIGNED_DATABASE_URL": url}
    engine = make_engine(url)
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    processes: list[subprocess.Popen[str]] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
            # Hold the lock, as a replica mid-migration would: both newcomers must queue.
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            for _ in range(2):
                processes.append(
                    subprocess.Popen(
                        [str(SCRIPT), "migrate"],
                        env=env,
                        cwd=tmp_path,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            wait_for(
                lambda: holder.execute(waiting).scalar() == 2,
                seconds=30,
                what="both migrations to wait for the lock",
            )
            assert not inspect(holder).has_table("alembic_version")  # nothing ran meanwhile
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        logs = []
        for process in processes:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr
            logs.append(stderr)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP DATABASE migrate_race WITH (FORCE)"))
        admin.dispose()
    assert all("another process is migrating" in log for log in logs)
    # One applied the revisions; the other, once the lock was free, found nothing to do.
    assert sorted("Running upgrade" in log for log in logs) == [False, True]
