"""Fixtures: a fresh database per test (SQLite and PostgreSQL, built by migrations), the app,
a real SMTP server, and the mail worker wired to it."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.cli import alembic_config
from app.config import Settings
from app.db import make_engine, open_session
from app.jobs.worker import JobWorker
from app.letters.demo import create_demo_letter
from app.mail.sender import SMTPSender
from app.main import create_app
from tests import logcheck
from tests.live import CHROMIUM, serving
from tests.pg import PostgresServer, find_pg_bin, free_port
from tests.smtp import SMTPServer

BASE_URL = "http://undersigned.test"
TEST_SECRET_KEY = "test-signing-key-" + "s" * 32
TEST_ENCRYPTION_KEY = "t1:" + "A" * 43  # 32 zero bytes, base64: for tests only
TEST_HASH_KEY = "B" * 43
MISSING: list[str] = []


def skip_for_missing(what: str) -> None:
    """Skip loudly (a banner closes the run); in CI, where everything is installed, fail."""
    MISSING.append(what)
    if os.environ.get("UNDERSIGNED_TEST_REQUIRE_ALL"):
        pytest.fail(f"{what} is required here (UNDERSIGNED_TEST_REQUIRE_ALL is set)")
    pytest.skip(f"{what} is not installed")


def _migrate(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    bindir = find_pg_bin()
    if bindir is None:
        yield None
        return
    server = PostgresServer.start(bindir)
    engine = make_engine(server.admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE template_undersigned"))
    engine.dispose()
    _migrate(server.url("template_undersigned"))
    yield server
    server.stop()


_counter = {"n": 0}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer | None = request.getfixturevalue("postgres")
    if server is None:
        skip_for_missing("PostgreSQL server (initdb, pg_ctl)")
    _counter["n"] += 1
    name = f"test_{_counter['n']}"
    admin = make_engine(server.admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template_undersigned"))
    yield server.url(name)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SMTPServer) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        base_url=BASE_URL,
        secret_keys=[TEST_SECRET_KEY],
        encryption_keys=[TEST_ENCRYPTION_KEY],
        hash_key=TEST_HASH_KEY,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout_seconds=5,
        mail_from="Undersigned <letters@undersigned.test>",
        # Tests read what they just wrote; the page cache has its own tests (test_microcache.py).
        page_cache_seconds=0,
    )


@pytest.fixture
def app_and_engine(settings: Settings) -> Iterator[tuple[object, Engine]]:
    app = create_app(settings)
    yield app, app.state.engine
    app.state.engine.dispose()


@pytest.fixture
def engine(app_and_engine: tuple[object, Engine]) -> Engine:
    return app_and_engine[1]


@pytest.fixture
def client(app_and_engine: tuple[object, Engine]) -> Iterator[TestClient]:
    app = app_and_engine[0]
    with TestClient(app, base_url="http://testserver") as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def letter_slug(engine: Engine) -> str:
    """The demo letter, open for signatures."""
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    return "all-for-all"


@pytest.fixture
def worker(engine: Engine, settings: Settings) -> JobWorker:
    # No recurring jobs here, so counts of work done are the test's own; tests/jobs covers them.
    return JobWorker(engine=engine, settings=settings, sender=SMTPSender(settings), recurring=())


LOG_LINES = logcheck.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No log line of the whole run may hold an address or a token."""
    found = logcheck.offending(LOG_LINES.lines)
    if not found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(
            f"LOG CHECK: {len(found)} log line(s) hold an address or a token:", red=True, bold=True
        )
        for line in found[:50]:
            reporter.write_line(f"  {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what in sorted(set(MISSING)):
        banner = "!" * 78
        terminalreporter.write_line(banner, red=True, bold=True)
        terminalreporter.write_line(f"MISSING: {what}: its tests were SKIPPED", red=True, bold=True)
        terminalreporter.write_line(banner, red=True, bold=True)


warnings.filterwarnings("default", category=ResourceWarning)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        skip_for_missing(f"Chromium at {CHROMIUM} (Debian package chromium)")
    return CHROMIUM


@pytest.fixture
def live_server(app_and_engine: tuple[object, Engine]) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port; yields its base URL."""
    with serving(app_and_engine[0]) as base_url:  # type: ignore[arg-type]
        yield base_url
