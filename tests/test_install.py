"""A plain (non-editable) install from the lock file works away from the checkout: the wheel
carries templates, migrations and static files, and its ``undersigned`` command migrates, makes
the demo letter and serves it. Also the Docker image's entrypoint, which needs no Docker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx2 as httpx
import pytest

from app.config import PROJECT_ROOT
from app.letters.demo import DEMO_SLUG, DEMO_TITLE
from tests.conftest import skip_for_missing
from tests.pg import free_port
from tests.test_cli import Output, wait_for

ENTRYPOINT = PROJECT_ROOT / "scripts" / "docker-entrypoint.sh"


def _clean_env(**extra: str) -> dict[str, str]:
    """The machine's environment (pip's settings included) without our settings or paths."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("UNDERSIGNED_") and name not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(extra)
    return env


def _run(command: list[str | Path], *, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.wheel_dir = root / "wheel"
        self.cwd = root / "elsewhere"  # outside the checkout, so it cannot be imported


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtual environment: the locked dependencies, then the project, not editable."""
    where = Installed(tmp_path_factory.mktemp("install"))
    where.cwd.mkdir()
    env = _clean_env()
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(where.bin.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:  # Debian without python3-venv: no ensurepip
        skip_for_missing(f"python -m venv (apt-get install python3-venv): {made.stderr.strip()}")
    pip = where.bin / "pip"
    # The lock holds hatchling too, so nothing is built with packages from outside the lock.
    lock = PROJECT_ROOT / "requirements.lock"
    _run([pip, "install", "-q", "--require-hashes", "-r", lock], cwd=where.cwd, env=env)
    install = [pip, "install", "-q", "--no-deps", "--no-build-isolation", PROJECT_ROOT]
    _run(install, cwd=where.cwd, env=env)
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", where.wheel_dir]
    _run([pip, *build, PROJECT_ROOT], cwd=where.cwd, env=env)
    return where


def test_wheel_carries_templates_migrations_and_static_files(installed: Installed) -> None:
    [wheel] = installed.wheel_dir.glob("undersigned-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "migrations"):
        shipped = {
            f"app/{folder}/{path.relative_to(PROJECT_ROOT / folder).as_posix()}"
            for path in (PROJECT_ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert shipped, folder
        assert shipped <= names, shipped - names
    assert "app/static/style.css" in names
    # The catalogues, read as .po at run time, and the demo letter in its three languages.
    assert {
        "app/locales/ru/LC_MESSAGES/messages.po",
        "app/locales/uk/LC_MESSAGES/messages.po",
    } <= names
    assert "app/letters/demo.toml" in names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_installed_command_migrates_makes_the_demo_and_serves_it(
    installed: Installed, tmp_path: Path
) -> None:
    env = _clean_env(UNDERSIGNED_DATA_DIR=str(tmp_path / "data"))
    python, command = installed.bin / "python", installed.bin / "undersigned"
    where_app = _run([python, "-c", "import app; print(app.__file__)"], cwd=installed.cwd, env=env)
    assert "site-packages" in where_app
    assert not Path(where_app.strip()).is_relative_to(PROJECT_ROOT)

    _run([command, "migrate"], cwd=installed.cwd, env=env)
    made = _run([command, "demo"], cwd=installed.cwd, env=env)
    assert "Demo letter created" in made

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [str(command), "serve", "--port", str(port)],
            cwd=installed.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        output = Output(process.stdout)
        try:
            # serve prints the demo letter's real address: the port it was given.
            demo_line = f"Demo letter: {base_url}/letters/{DEMO_SLUG}"
            wait_for(lambda: demo_line in output.text, seconds=30, what=demo_line)
            with httpx.Client(base_url=base_url, timeout=5) as client:

                def letter_page() -> httpx.Response | None:
                    assert process.poll() is None, (tmp_path / "stderr.log").read_text()
                    try:
                        return client.get(f"/letters/{DEMO_SLUG}")
                    except httpx.TransportError:
                        return None

                page = wait_for(letter_page, seconds=30, what="the server to answer")
                assert page.status_code == 200
                assert DEMO_TITLE in page.text
                style = client.get("/static/style.css")
                assert style.status_code == 200
                assert style.text == (PROJECT_ROOT / "app" / "static" / "style.css").read_text()
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
    assert returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log


def test_docker_entrypoint_refuses_to_serve_without_base_url(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    # The image has `undersigned` on its PATH; here it is this virtual environment's.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = _clean_env(PATH=path, UNDERSIGNED_DATA_DIR=str(tmp_path / "data"))
    default_cmd = ["sh", "-c", "echo serving"]

    refused = subprocess.run(
        [sh, ENTRYPOINT, *default_cmd], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 64
    assert "set UNDERSIGNED_BASE_URL" in refused.stderr
    assert "serving" not in refused.stdout

    env["UNDERSIGNED_BASE_URL"] = "https://letters.example.org"
    started = subprocess.run(
        [sh, ENTRYPOINT, *default_cmd], env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout == "serving\n"

    # The deployment's migration step builds no links, so it needs no address.
    del env["UNDERSIGNED_BASE_URL"]
    migrated = subprocess.run(
        [sh, ENTRYPOINT, "undersigned", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "undersigned.db").exists()
