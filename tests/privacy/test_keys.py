"""Keys and configuration fail safe: local key files are private and never silently replaced;
a deployment on a real database does not start without its keys, address and mail server."""

from __future__ import annotations

import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.config import ConfigurationError, Settings
from app.main import create_app
from app.privacy.keys import KeyMaterialError, read_or_create
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_HASH_KEY, TEST_SECRET_KEY

SCRIPT = Path(sys.executable).parent / "undersigned"


def test_local_keys_are_created_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keyring = settings.keyring()
    secret = settings.resolved_secret_keys()
    for name in ("secret_key", "encryption_keys", "hash_key"):
        path = tmp_path / "data" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert list((tmp_path / "data").iterdir()).__len__() == 3  # no temporary file left behind
    again = Settings(data_dir=tmp_path / "data")
    assert again.resolved_secret_keys() == secret
    stored = keyring.encrypt_email("kept@example.org")
    assert again.keyring().decrypt_email(stored) == "kept@example.org"


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race" / "hash_key"
    made = iter(range(1000))
    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = set(pool.map(lambda _: read_or_create(path, lambda: f"key-{next(made)}"), range(64)))
    assert len(keys) == 1


@pytest.mark.parametrize("content", ["", "   \n", "short"])
def test_an_empty_or_short_key_file_is_refused_not_replaced(tmp_path: Path, content: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hash_key").write_text(content)
    with pytest.raises(KeyMaterialError):
        Settings(data_dir=data).keyring()
    assert (data / "hash_key").read_text() == content  # left for the operator to restore


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret_keys": ["too-short"]}, "at least 32 characters"),
        ({"encryption_keys": ["k1:" + "A" * 20]}, "must be 32 bytes"),
        ({"encryption_keys": ["no-colon"]}, "ID:BASE64"),
        ({"encryption_keys": [TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY]}, "unique"),
        ({"hash_key": "QUJD"}, "at least 32 bytes"),
    ],
)
def test_malformed_keys_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    settings = _production(tmp_path).model_copy(update=changes)
    with pytest.raises(KeyMaterialError, match=message):
        settings.check_startable()


def _production(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/undersigned",
        "data_dir": tmp_path / "data",
        "base_url": "https://letters.example",
        "secret_keys": [TEST_SECRET_KEY],
        "encryption_keys": [TEST_ENCRYPTION_KEY],
        "hash_key": TEST_HASH_KEY,
        "smtp_host": "smtp.example",
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]


def test_a_complete_production_configuration_starts(tmp_path: Path) -> None:
    _production(tmp_path).check_startable()
    assert not (tmp_path / "data").exists()  # no key is made up on the side


@pytest.mark.parametrize(
    "missing",
    ["secret_keys", "encryption_keys", "hash_key", "base_url", "smtp_host"],
)
def test_production_refuses_to_start_without_each_setting(tmp_path: Path, missing: str) -> None:
    complete = _production(tmp_path)
    values = {name: getattr(complete, name) for name in complete.model_fields_set}
    del values[missing]
    settings = Settings(**values)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=f"UNDERSIGNED_{missing.upper()}"):
        create_app(settings)
    assert not (tmp_path / "data").exists()


def test_the_command_says_what_is_missing(tmp_path: Path) -> None:
    environment = {
        "PATH": "/usr/bin:/bin",
        "UNDERSIGNED_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/undersigned",
        "UNDERSIGNED_DATA_DIR": str(tmp_path / "data"),
    }
    for command in ("serve", "worker"):
        done = subprocess.run(
            [str(SCRIPT), command], env=environment, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        for name in ("SECRET_KEYS", "ENCRYPTION_KEYS", "HASH_KEY", "BASE_URL", "SMTP_HOST"):
            assert f"UNDERSIGNED_{name}" in done.stderr
        assert "Traceback" not in done.stderr
